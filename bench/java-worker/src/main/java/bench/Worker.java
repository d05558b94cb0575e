package bench;

import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.camunda.bpm.client.ExternalTaskClient;
import org.camunda.bpm.client.task.ExternalTask;
import org.camunda.bpm.client.task.ExternalTaskService;

/**
 * The official Java external-task client on the real-engine benchmark (bench/real-engine.sh).
 *
 * <pre>
 * java -cp ... bench.Worker URL TOPIC MODE [MAX_TASKS] [LOCK_MS] [ASYNC_RESPONSE_TIMEOUT_MS]
 * </pre>
 *
 * MODE {@code client}: the handler runs on the client's own thread, as the client documents
 * (fetch, run every fetched task's handler one after the other, fetch again). MODE
 * {@code pool}: the handler hands each task to a pool of MAX_TASKS threads and returns; a
 * semaphore of MAX_TASKS permits blocks the client's thread while all are busy, so at most
 * MAX_TASKS tasks are locked and running at once (what bptl's {@code max_tasks} does), and the
 * HTTP connection pool has room for all of them.
 *
 * A task with a {@code durationMs} variable sleeps that long and completes with
 * {@code sleptMs}; one without completes at once with no variables. Runs until killed; the
 * script measures this process from /proc and counts completions in the engine.
 */
public final class Worker {
  public static void main(String[] args) {
    if (args.length < 3) {
      System.err.println("usage: Worker URL TOPIC client|pool [MAX_TASKS] [LOCK_MS] [ASYNC_RESPONSE_TIMEOUT_MS]");
      System.exit(2);
    }
    String url = args[0];
    String topic = args[1];
    String mode = args[2];
    int maxTasks = args.length > 3 ? Integer.parseInt(args[3]) : 64;
    long lockMs = args.length > 4 ? Long.parseLong(args[4]) : 60_000;
    long asyncMs = args.length > 5 ? Long.parseLong(args[5]) : 10_000;
    boolean pool = switch (mode) {
      case "client" -> false;
      case "pool" -> true;
      default -> throw new IllegalArgumentException("MODE is client or pool, not " + mode);
    };

    ExternalTaskClient client = ExternalTaskClient.create()
        .baseUrl(url)
        .workerId("java-bench-" + ProcessHandle.current().pid())
        .maxTasks(maxTasks)
        .lockDuration(lockMs)
        .asyncResponseTimeout(asyncMs)
        .usePriority(false)
        .disableBackoffStrategy()
        .customizeHttpClient(http -> http.setConnectionManager(
            PoolingHttpClientConnectionManagerBuilder.create()
                .setMaxConnPerRoute(maxTasks + 2)
                .setMaxConnTotal(maxTasks + 2)
                .build()))
        .build();

    AtomicLong done = new AtomicLong();
    if (pool) {
      ExecutorService executor = Executors.newFixedThreadPool(maxTasks);
      Semaphore slots = new Semaphore(maxTasks);
      client.subscribe(topic)
          .lockDuration(lockMs)
          .handler((task, service) -> {
            slots.acquireUninterruptibly();
            executor.execute(() -> {
              try {
                perform(task, service);
                done.incrementAndGet();
              } catch (RuntimeException e) {
                System.err.println("task " + task.getId() + ": " + e);
              } finally {
                slots.release();
              }
            });
          })
          .open();
    } else {
      client.subscribe(topic)
          .lockDuration(lockMs)
          .handler((task, service) -> {
            perform(task, service);
            done.incrementAndGet();
          })
          .open();
    }
    System.err.println("java worker (" + mode + ", maxTasks " + maxTasks + ") subscribed to " + topic);
  }

  private static void perform(ExternalTask task, ExternalTaskService service) {
    Object duration = task.getVariable("durationMs");
    if (duration == null) {
      service.complete(task);
      return;
    }
    long millis = ((Number) duration).longValue();
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    service.complete(task, Map.of("sleptMs", millis));
  }

  private Worker() {}
}
