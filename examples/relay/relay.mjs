// An example webhook relay for task_api events (no framework; the one
// dependency is the PostgreSQL client "pg").
//
// It LISTENs on task_api_events, and whenever woken (or every
// RELAY_POLL_MS) drains the consumer's events: in a transaction it claims a
// batch with task_api.claim_events(), POSTs each event as JSON to
// WEBHOOK_URL in order, acknowledges the delivered prefix with
// task_api.ack_events() (on a Citus cluster, the prefix of each node:
// docs/scaling.md, "Claiming across nodes") and commits.  When a delivery fails it acknowledges
// what went through, commits (releasing the consumer for other workers) and
// retries from the failed event after an exponential backoff.  SIGTERM or
// SIGINT stops it at once, even in a backoff or a POST that has not been
// answered: what was delivered is acknowledged, the rest comes again.  Delivery is
// at least once: a relay that dies before its ack commits leaves the batch
// to be handed out again, so receivers should deduplicate by event id
// (the Task-Api-Event-Id header).
//
// Configuration (environment):
//   WEBHOOK_URL            where to POST each event (required)
//   DATABASE_URL           connection string; or the PG* variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...)
//   RELAY_CONSUMER         consumer name (default "webhook"); run several relays with one name for failover
//   RELAY_BATCH            events per claim (default 50)
//   RELAY_POLL_MS          wake up at least this often without a notification (default 5000)
//   RELAY_TIMEOUT_MS       per-request timeout (default 10000)
//   RELAY_BACKOFF_MS       first retry delay (default 500); doubles up to RELAY_BACKOFF_MAX_MS (default 60000)
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const config = {
  webhook: process.env.WEBHOOK_URL,
  consumer: process.env.RELAY_CONSUMER || 'webhook',
  batch: intSetting('RELAY_BATCH', 50, 1, 10000),
  pollMs: intSetting('RELAY_POLL_MS', 5000, 10, 3600000),
  timeoutMs: intSetting('RELAY_TIMEOUT_MS', 10000, 10, 600000),
  backoffMs: intSetting('RELAY_BACKOFF_MS', 500, 1, 3600000),
  backoffMaxMs: intSetting('RELAY_BACKOFF_MAX_MS', 60000, 1, 3600000),
};

function intSetting(name, dflt, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) fail(`${name} must be an integer from ${min} to ${max}, got ${raw}`);
  return n;
}

function fail(message) {
  log('fatal', { message });
  process.exit(2);
}

function log(event, fields = {}) {
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), event, ...fields }) + '\n');
}

// Aborted on SIGTERM/SIGINT: cuts short a backoff and an unanswered POST.
const stopController = new AbortController();

// Wait ms, or less if the relay is told to stop (not when events arrive: a
// notification must not cut a backoff short).
function pause(ms) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stopController.signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stopController.signal.addEventListener('abort', done);
  });
}

// Delay before retry number `attempt` (1, 2, ...): exponential, capped, with jitter.
function backoff(attempt) {
  const ceiling = Math.min(config.backoffMaxMs, config.backoffMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + Math.random() * ceiling / 2);
}

// The id of the request that wrote the event, passed on: X-Request-Id, and
// a W3C traceparent (with a new span id) when the id is a trace id (32
// lowercase hex digits, what task_api makes, or the client's traceparent).
function traceHeaders(event) {
  const id = event.request_id;
  if (!id) return {};
  const headers = { 'X-Request-Id': id };
  if (/^[0-9a-f]{32}$/.test(id) && !/^0+$/.test(id)) {
    headers.traceparent = `00-${id}-${randomBytes(8).toString('hex')}-01`;
  }
  return headers;
}

// POST one event; true on a 2xx answer.
async function deliver(event) {
  const body = JSON.stringify({
    id: Number(event.id),
    occurred_at: event.occurred_at,
    actor_id: event.actor_id,
    resource_type: event.resource_type,
    resource_id: event.resource_id,
    project_id: event.project_id,
    action: event.action,
    changes: event.changes,
  });
  try {
    const res = await fetch(config.webhook, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Task-Api-Event-Id': String(event.id), ...traceHeaders(event) },
      body,
      signal: AbortSignal.any([AbortSignal.timeout(config.timeoutMs), stopController.signal]),
    });
    await res.arrayBuffer();
    if (res.ok) return true;
    log('delivery_failed', { id: Number(event.id), status: res.status });
  } catch (e) {
    // Stopped mid-request: not delivered, so not acknowledged (it comes again).
    log(stopping ? 'delivery_abandoned' : 'delivery_failed', { id: Number(event.id), error: e.message });
  }
  return false;
}

// Claim, deliver and acknowledge one batch.  Returns how many events were
// claimed and whether one of them failed.
async function runBatch(client) {
  await client.query('BEGIN');
  try {
    const { rows } = await client.query(
      'SELECT e.id, e.occurred_at, e.actor_id, e.resource_type, e.resource_id, e.project_id, e.action, e.changes, ' +
      // request_id since task_api 0.2.0; absent (null) from a 0.1.0 database.
      "to_jsonb(e) ->> 'request_id' AS request_id FROM task_api.claim_events($1, $2) e", [config.consumer, config.batch]);
    // The last delivered event of each node: one server is one node; on a
    // Citus cluster event ids are per node (id >> 48, its group) and a batch
    // holds several nodes' events, each acknowledged on its own node.
    const delivered = new Map();
    let failed = false;
    for (const event of rows) {
      if (stopping || !(await deliver(event))) {
        failed = !stopping;
        break;
      }
      delivered.set(BigInt(event.id) >> 48n, event.id);
    }
    for (const id of delivered.values()) await client.query('SELECT task_api.ack_events($1, $2)', [config.consumer, id]);
    await client.query('COMMIT');
    for (const id of delivered.values()) log('acknowledged', { consumer: config.consumer, last_id: Number(id) });
    return { claimed: rows.length, failed };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
}

let stopping = false;
let wake = null;
let pending = true;

function signal() {
  pending = true;
  if (wake) wake();
}

async function main() {
  if (!config.webhook) fail('WEBHOOK_URL is required');
  const connection = process.env.DATABASE_URL ? { connectionString: process.env.DATABASE_URL } : {};
  const listener = new pg.Client(connection);
  const worker = new pg.Client(connection);
  for (const c of [listener, worker]) {
    c.on('error', (e) => fail(`database connection lost: ${e.message}`));
    await c.connect();
  }
  listener.on('notification', () => signal());
  await listener.query('LISTEN task_api_events');
  log('listening', { consumer: config.consumer, webhook: config.webhook });

  const stop = () => {
    stopping = true;
    stopController.abort();
    signal();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  let attempt = 0;
  while (!stopping) {
    if (!pending) {
      let timer;
      await new Promise((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, config.pollMs);
      });
      clearTimeout(timer);
      wake = null;
    }
    pending = false;
    // Drain: batches until one comes back short, or a delivery fails.
    for (;;) {
      if (stopping) break;
      const { claimed, failed } = await runBatch(worker);
      if (failed) {
        attempt += 1;
        const delay = backoff(attempt);
        log('retrying', { attempt, delay_ms: delay });
        await pause(delay);
        continue;
      }
      attempt = 0;
      if (claimed < config.batch) break;
    }
  }
  await listener.end();
  await worker.end();
  log('stopped');
}

main().catch((e) => fail(e.message));
