// The load driver of tests/bench/capacity.sh: a day-shaped open-loop load (a daily curve plus
// bursts, compressed into --duration seconds) of chat completions through the gateway, a mix of
// clean and sensitive requests, streamed and not. Node's standard library only.
//
//   node capacity_load.mjs --url http://127.0.0.1:PORT --duration 30 --base-rps 6 ...
//
// Prints one JSON object: requests sent, answers by status, served self-hosted or closed (from
// x-switchboard-backend and --local-backends), time to first token of streamed answers (p50,
// p99, seconds), and for sensitive requests the refusals (status >= 400) and their p99 time to
// first token (the wait they saw). Arrivals are a Poisson process with the day's rate, from a
// seeded generator: every policy sees the same requests at the same times.
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    model: { type: 'string', default: 'default' },
    duration: { type: 'string', default: '30' },        // seconds
    'base-rps': { type: 'string', default: '6' },       // the daily curve's peak rate
    'burst-rps': { type: 'string', default: '12' },     // added at each burst's peak
    bursts: { type: 'string', default: '3' },
    'sensitive-share': { type: 'string', default: '0.2' },
    'stream-share': { type: 'string', default: '0.8' },
    'prompt-words': { type: 'string', default: '200:800' },
    'max-tokens': { type: 'string', default: '0' },     // 0: none in the request
    'local-backends': { type: 'string', default: 'local' },
    timeout: { type: 'string', default: '60' },         // seconds per request
    seed: { type: 'string', default: '14' },
    dump: { type: 'string', default: '' },              // file: one JSON line per request
  },
});
if (!opt.url) {
  console.error('capacity_load: --url is required');
  process.exit(2);
}
const duration = Number(opt.duration);
const baseRps = Number(opt['base-rps']);
const burstRps = Number(opt['burst-rps']);
const bursts = Number(opt.bursts);
const sensitiveShare = Number(opt['sensitive-share']);
const streamShare = Number(opt['stream-share']);
const [minWords, maxWords] = opt['prompt-words'].split(':').map(Number);
const maxTokens = Number(opt['max-tokens']);
const localBackends = new Set(opt['local-backends'].split(','));
const timeoutMs = Number(opt.timeout) * 1000;
for (const [name, v] of Object.entries({ duration, baseRps, burstRps, bursts, sensitiveShare,
  streamShare, minWords, maxWords, maxTokens, timeoutMs })) {
  if (!Number.isFinite(v) || v < 0) {
    console.error(`capacity_load: bad value for ${name}`);
    process.exit(2);
  }
}

// mulberry32: small, seeded, good enough for arrivals and word choice.
let state = Number(opt.seed) >>> 0;
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

// The day: a night trough at 30% of the peak, a midday peak, and `bursts` short bursts spread
// over the working hours, each a bump of burst_rps lasting 4% of the day.
function rate(x) {
  const day = 0.3 + 0.7 * Math.sin(Math.PI * x) ** 2;
  let burst = 0;
  for (let i = 0; i < bursts; i++) {
    const centre = 0.25 + (0.5 * (i + 0.5)) / bursts;
    burst += Math.exp(-(((x - centre) / 0.02) ** 2));
  }
  return baseRps * day + burstRps * burst;
}

function arrivals() {
  const peak = baseRps + burstRps * Math.max(1, bursts);
  const times = [];
  for (let t = 0; peak > 0;) {
    t += -Math.log(1 - random()) / peak;
    if (t >= duration) break;
    if (random() * peak <= rate(t / duration)) times.push(t);
  }
  return times;
}

const WORDS = ('the quarterly report shows revenue growth across regions while costs rose in ' +
  'logistics and marketing please review the attached notes summarise the key points list ' +
  'risks and propose next steps for the team meeting on monday').split(' ');
const SENSITIVE = [
  'Reply to jane.doe@acme-corp.com with the summary.',
  'Charge the card 4111 1111 1111 1111 for the renewal.',
];

function makeRequest(i) {
  const sensitive = random() < sensitiveShare;
  const stream = random() < streamShare;
  const n = minWords + Math.floor(random() * (maxWords - minWords + 1));
  const words = [];
  for (let w = 0; w < n; w++) words.push(WORDS[Math.floor(random() * WORDS.length)]);
  const user = sensitive ? SENSITIVE[i % SENSITIVE.length] : 'Summarise the notes above.';
  const body = {
    model: opt.model,
    messages: [
      { role: 'system', content: words.join(' ') },
      { role: 'user', content: user },
    ],
    stream,
  };
  if (stream) body.stream_options = { include_usage: true };
  if (maxTokens > 0) body.max_tokens = maxTokens;
  return { sensitive, stream, body: JSON.stringify(body) };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4096 });
const target = new URL('/v1/chat/completions', opt.url);

function send(req) {
  return new Promise((resolve) => {
    const started = performance.now();
    const out = { ...req, status: 0, ttft: null, total: null, backend: '' };
    delete out.body;
    const r = http.request(target, {
      method: 'POST', agent, timeout: timeoutMs,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(req.body) },
    }, (res) => {
      out.status = res.statusCode;
      out.backend = res.headers['x-switchboard-backend'] || '';
      res.on('data', (chunk) => {
        // The first token: the first SSE event carrying content (role chunks carry "").
        if (out.ttft === null && (!req.stream || /"content":"[^"]/.test(chunk.toString()))) {
          out.ttft = (performance.now() - started) / 1000;
        }
      });
      res.on('end', () => {
        out.total = (performance.now() - started) / 1000;
        resolve(out);
      });
      res.on('error', () => resolve(out));
    });
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', () => {
      out.total = (performance.now() - started) / 1000;
      resolve(out);
    });
    r.end(req.body);
  });
}

function quantile(values, q) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const times = arrivals();
const requests = times.map((_, i) => makeRequest(i));
const origin = performance.now();
const pending = times.map((t, i) => new Promise((resolve) => {
  setTimeout(() => send(requests[i]).then(resolve), Math.max(0, t * 1000 - (performance.now() - origin)));
}));
const results = await Promise.all(pending);
agent.destroy();
if (opt.dump) {
  writeFileSync(opt.dump, results.map((r, i) => JSON.stringify({ at: times[i], ...r })).join('\n') + '\n');
}

const ok = results.filter((r) => r.status === 200);
const streamed = ok.filter((r) => r.stream && r.ttft !== null);
const sensitive = results.filter((r) => r.sensitive);
const sensitiveOk = sensitive.filter((r) => r.status === 200);
const byStatus = {};
for (const r of results) byStatus[r.status] = (byStatus[r.status] || 0) + 1;
const summary = {
  sent: results.length,
  by_status: byStatus,
  ok: ok.length,
  local: ok.filter((r) => localBackends.has(r.backend)).length,
  closed: ok.filter((r) => r.backend !== '' && !localBackends.has(r.backend)).length,
  ttft_p50: quantile(streamed.map((r) => r.ttft), 0.5),
  ttft_p99: quantile(streamed.map((r) => r.ttft), 0.99),
  sensitive: sensitive.length,
  sensitive_refused: sensitive.filter((r) => r.status !== 200).length,
  sensitive_closed: sensitiveOk.filter((r) => !localBackends.has(r.backend)).length,
  sensitive_ttft_p99: quantile(sensitiveOk.filter((r) => r.ttft !== null).map((r) => r.ttft), 0.99),
  sensitive_refused_after_p99: quantile(sensitive.filter((r) => r.status !== 200).map((r) => r.total), 0.99),
};
console.log(JSON.stringify(summary));
