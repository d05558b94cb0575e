// A worker using the official Camunda JavaScript client against the bptl dev engine.
//
// Usage: node worker.mjs <scenario> <engine-rest url> <tasks to handle>
// The client library is loaded from CAMUNDA_CLIENT_ENTRY (an absolute path to its index.js),
// installed by tests/js_client.rs into a cache directory.
import { pathToFileURL } from "node:url";

const [scenario, baseUrl, expectedText] = process.argv.slice(2);
const expected = Number(expectedText);
const entry = process.env.CAMUNDA_CLIENT_ENTRY;
if (!entry || !scenario || !baseUrl || !expected) {
  console.error("usage: CAMUNDA_CLIENT_ENTRY=... node worker.mjs <scenario> <url> <count>");
  process.exit(2);
}
const { Client, Variables } = await import(pathToFileURL(entry).href);

const client = new Client({
  baseUrl,
  workerId: `js-worker-${scenario}`,
  asyncResponseTimeout: 5000,
  lockDuration: 20000,
  maxTasks: 5,
});

let handled = 0;
let failed = false;
function done() {
  handled += 1;
  if (handled >= expected) {
    client.stop();
    console.log(`handled ${handled} tasks`);
    process.exit(failed ? 1 : 0);
  }
}
function fail(what, error) {
  failed = true;
  console.error(`${what} failed:`, error && (error.message || error));
}

client.on("poll:error", (e) => fail("poll", e));
client.on("complete:error", (_task, e) => fail("complete", e));
client.on("handleFailure:error", (_task, e) => fail("handleFailure", e));
client.on("handleBpmnError:error", (_task, e) => fail("handleBpmnError", e));

if (scenario === "double") {
  client.subscribe("double", async ({ task, taskService }) => {
    const amount = task.variables.get("amount");
    const label = task.variables.get("label");
    const result = new Variables();
    result.set("doubled", amount * 2);
    result.set("label", `${label}!`);
    result.set("handledBy", "js");
    try {
      await taskService.complete(task, result);
    } catch (e) {
      fail("complete", e);
    }
    done();
  });
} else if (scenario === "errors") {
  client.subscribe("double", async ({ task, taskService }) => {
    const amount = task.variables.get("amount");
    try {
      if (amount < 0) {
        const vars = new Variables();
        vars.set("reason", "negative amount");
        await taskService.handleBpmnError(task, "NEGATIVE", "amount below zero", vars);
      } else {
        await taskService.handleFailure(task, {
          errorMessage: "cannot double this amount",
          errorDetails: "details from the JS worker",
          retries: 0,
          retryTimeout: 0,
        });
      }
    } catch (e) {
      fail("handling", e);
    }
    done();
  });
  client.subscribe("reject", async ({ task, taskService }) => {
    const vars = new Variables();
    vars.set("rejected", true);
    try {
      await taskService.complete(task, vars);
    } catch (e) {
      fail("complete", e);
    }
    done();
  });
} else {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}

setTimeout(() => {
  console.error(`timed out after handling ${handled} of ${expected} tasks`);
  process.exit(3);
}, 60000);
