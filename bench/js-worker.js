// The official JS client (camunda-external-task-client-js@3.1.0) on the bench workload:
// `node js-worker.js URL TASKS CONCURRENCY [TOPIC] [INTERVAL_MS]`. Prints the same figures as
// examples/bench.rs after TASKS completions; TASKS 0 runs until killed and prints nothing
// (bench/real-engine.sh measures the process from /proc and counts in the engine).
//
// INTERVAL_MS (default 0) is the client's `interval`, its pause before each fetch (the client's
// default is 300 ms). A task with a `durationMs` variable sleeps that long and completes with
// `sleptMs`; one without completes at once with no variables.
"use strict";
const { Client, Variables } = require("camunda-external-task-client-js");

const [url, tasksArg, concurrencyArg, topicArg, intervalArg] = process.argv.slice(2);
const tasks = Number(tasksArg);
const concurrency = Number(concurrencyArg);
const topic = topicArg || "bench";
const interval = intervalArg === undefined ? 0 : Number(intervalArg);

const client = new Client({
  baseUrl: url,
  workerId: `js-bench-${process.pid}`,
  maxTasks: concurrency,
  maxParallelExecutions: concurrency,
  asyncResponseTimeout: 10000,
  lockDuration: 60000,
  interval,
  usePriority: false,
});

const latencies = [];
let first = Infinity;
let last = 0;
let done = 0;
let cpuBefore = null;
const idleRssTimer = setTimeout(() => {
  idleRss = process.memoryUsage().rss;
  cpuBefore = process.cpuUsage();
}, 1200);
let idleRss = 0;

// Camunda dates: 2015-10-06T16:34:42.000+0200
function parseCamundaDate(text) {
  return Date.parse(text.replace(/([+-]\d\d)(\d\d)$/, "$1:$2"));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

client.subscribe(topic, async ({ task, taskService }) => {
  const duration = task.variables.get("durationMs");
  if (duration === undefined || duration === null) {
    await taskService.complete(task);
  } else {
    await sleep(duration);
    await taskService.complete(task, new Variables().set("sleptMs", duration));
  }
  if (tasks === 0) return;
  const now = Date.now();
  const created = parseCamundaDate(task.createTime);
  latencies.push(now - created);
  first = Math.min(first, created);
  last = Math.max(last, now);
  done += 1;
  if (done === tasks) {
    const cpu = process.cpuUsage(cpuBefore);
    client.stop();
    latencies.sort((a, b) => a - b);
    const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))];
    const wall = (last - first) / 1000;
    console.log(`camunda-external-task-client-js 3.1.0, ${tasks} tasks, concurrency ${concurrency}, interval ${interval} ms`);
    console.log(`  throughput      ${(tasks / wall).toFixed(0).padStart(10)} tasks/s`);
    console.log(`  latency p50     ${pct(0.5).toFixed(1).padStart(10)} ms (task creation → completion accepted)`);
    console.log(`  latency p99     ${pct(0.99).toFixed(1).padStart(10)} ms`);
    console.log(`  CPU per task    ${(((cpu.user + cpu.system) / tasks)).toFixed(1).padStart(10)} µs (user + system)`);
    console.log(`  RSS idle        ${(idleRss / 1048576).toFixed(1).padStart(10)} MB`);
    console.log(`  RSS peak        ${(process.resourceUsage().maxRSS / 1024).toFixed(1).padStart(10)} MB`);
    clearTimeout(idleRssTimer);
    setTimeout(() => process.exit(0), 100);
  }
});
