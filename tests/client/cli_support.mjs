// Shared by the tests that run the coding agents (Codex CLI, Claude Code) and the ones that read
// what the gateway sent upstream: the fakes' request records, the CLIs' installed binaries, a
// clean environment for them, and a run under strace that lists every address they sent to.
//
// Environment (set by tests/client/run.sh):
//   CLIENT_WORK_DIR          where the CLIs' HOME, CODEX_HOME and project directories are made
//                            (default: the system's temporary directory)
//   CLIENT_TEST_TIMEOUT_MS   the per-test timeout run.sh gives node --test (default 240000)
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const testTimeoutMs = Number(process.env.CLIENT_TEST_TIMEOUT_MS ?? 240_000);
// One CLI run: generous (the first start of an agent reads its 400 MB binary), and below the
// test's own timeout so a hung agent is killed with its output shown.
export const cliTimeoutMs = Math.min(120_000, Math.max(10_000, testTimeoutMs - 30_000));

/** A fresh directory under CLIENT_WORK_DIR (run.sh's temporary directory). */
export function freshDir(prefix) {
  const base = process.env.CLIENT_WORK_DIR || os.tmpdir();
  fs.mkdirSync(base, {recursive: true});
  return fs.mkdtempSync(path.join(base, `${prefix}-`));
}

/** A word no other request carries, to find this test's requests in a shared record. */
export function nonce(prefix) {
  return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

// --- the fakes' request records -----------------------------------------------------------------

/**
 * The record file named by environment variable `envName` (fake_upstream --record FILE); fails
 * the test when run.sh could not give the fake --record.
 */
export function recordFile(envName) {
  const file = process.env[envName];
  assert.ok(file, `${envName} is not set: this test needs a fake_upstream with --record FILE`);
  return file;
}

/**
 * Every request recorded in `file`, oldest first: {method, target, headers (lower-case names),
 * body (the raw text), json (the parsed body, or null)}.
 */
export function readRecords(file) {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const records = [];
  // Only whole lines: a record being written while this reads is left for the next read.
  for (const line of text.split('\n').slice(0, -1)) {
    if (!line.trim())
      continue;
    const r = JSON.parse(line);
    let json = null;
    try {
      json = JSON.parse(r.body);
    } catch {
      // not JSON: keep the raw body only
    }
    records.push({...r, json});
  }
  return records;
}

/** The recorded requests whose body contains `marker`, oldest first. */
export function recordsWith(file, marker) {
  return readRecords(file).filter((r) => typeof r.body === 'string' && r.body.includes(marker));
}

// --- the CLIs ------------------------------------------------------------------------------------

function firstExisting(candidates, what) {
  for (const c of candidates) {
    if (fs.existsSync(c))
      return c;
  }
  throw new Error(
      `${what} is not installed (looked for ${candidates.join(', ')}); run npm ci in ` +
      'tests/client (run.sh does)');
}

/**
 * Claude Code's native binary: the platform package's (npm installs it as an optional
 * dependency), else the wrapper's bin/claude.exe once its postinstall has put the binary there
 * (before that it is a small placeholder script).
 */
export function claudeBinary() {
  const platform = `${process.platform}-${process.arch}`;
  const pkg = path.join(here, 'node_modules', '@anthropic-ai', `claude-code-${platform}`);
  const wrapper = path.join(here, 'node_modules', '@anthropic-ai', 'claude-code', 'bin');
  const candidates =
      [path.join(pkg, 'claude'), path.join(pkg, 'claude.exe'), path.join(wrapper, 'claude.exe')];
  const found = candidates.find((c) => fs.existsSync(c) && fs.statSync(c).size > 1_000_000);
  if (!found) {
    throw new Error(
        `Claude Code is not installed (looked for ${candidates.join(', ')}); ` +
        'run npm ci in tests/client (run.sh does)');
  }
  return found;
}

/** Codex's launcher script (it execs the platform package's native binary). */
export function codexLauncher() {
  return firstExisting(
      [path.join(here, 'node_modules', '@openai', 'codex', 'bin', 'codex.js')], 'Codex CLI');
}

/**
 * The environment a CLI runs with: nothing inherited but PATH (node for Codex's launcher, the
 * shell tools the agents call), no proxy variables, a HOME of its own, plus `extra`.
 */
export function cliEnv(home, extra) {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    TERM: 'dumb',
    LANG: 'C.UTF-8',
    NO_COLOR: '1',
    ...extra,
  };
}

/**
 * Runs `command args` under `strace -f`, recording every address the process tree sent to
 * (connect, sendto, sendmsg, sendmmsg). Resolves to {code, signal, stdout, stderr, peers}, each
 * peer {family, address, port}. Kills the tree after `timeoutMs`.
 */
export function runTraced(command, args, {cwd, env, timeoutMs = cliTimeoutMs}) {
  const traceFile = path.join(freshDir('strace'), 'trace');
  const strace = [
    '-f', '-qq', '-o', traceFile, '-e', 'trace=connect,sendto,sendmsg,sendmmsg', command, ...args
  ];
  return new Promise((resolve, reject) => {
    const child =
        spawn('strace', strace, {cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true});
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const trace = fs.existsSync(traceFile) ? fs.readFileSync(traceFile, 'utf8') : '';
      const result = {code, signal, stdout, stderr, peers: peersOf(trace), timedOut};
      if (timedOut) {
        reject(new Error(
            `${path.basename(command)} did not finish within ${timeoutMs} ms\n` +
            `stdout:\n${stdout}\nstderr:\n${stderr}`));
      } else {
        resolve(result);
      }
    });
  });
}

/** Every IPv4 and IPv6 peer address in an strace log. */
export function peersOf(trace) {
  const peers = [];
  const v4 = /sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)/g;
  const v6 = /sa_family=AF_INET6, sin6_port=htons\((\d+)\),.*?inet_pton\(AF_INET6, "([^"]+)"/g;
  for (const m of trace.matchAll(v4))
    peers.push({family: 4, address: m[2], port: Number(m[1])});
  for (const m of trace.matchAll(v6))
    peers.push({family: 6, address: m[2], port: Number(m[1])});
  return peers;
}

function isLoopback(peer) {
  if (peer.family === 4)
    return peer.address.startsWith('127.');
  return peer.address === '::1' || peer.address.startsWith('::ffff:127.');
}

/**
 * Asserts that a traced run sent to loopback addresses only (no DNS lookup, no telemetry, no
 * update check) and that it did reach `gatewayPort`.
 */
export function assertLoopbackOnly(run, gatewayPort) {
  const outside = run.peers.filter((p) => !isLoopback(p));
  assert.deepEqual(
      outside, [], `the client sent to addresses outside loopback: ${JSON.stringify(outside)}`);
  assert.ok(
      run.peers.some((p) => p.port === gatewayPort),
      `the client never connected to the gateway's port ${gatewayPort}: ${
          JSON.stringify(run.peers)}`);
}

/** A readable account of a CLI run for assertion messages. */
export function describeRun(run) {
  return `exit ${run.code}${run.signal ? ` (signal ${run.signal})` : ''}\nstdout:\n${
      run.stdout}\nstderr:\n${run.stderr.slice(-4000)}`;
}
