// Runs Claude Code (@anthropic-ai/claude-code, pinned in package-lock.json) unchanged, headless
// (`claude -p`), with ANTHROPIC_BASE_URL at the gateway, against an Anthropic-format stand-in (a
// closed `anthropic` backend, whose lane must forward Claude Code's body and beta headers as they
// are) and against a self-hosted OpenAI-format engine (the gateway translates). The gateway runs
// with the default sensitivity settings and the closed backend has the shipped clearance
// (internal): Claude Code's own boilerplate (its no-reply address) must not raise the level.
//
// Claude Code sends its tools with every turn, so when the user spoke last the fakes answer its
// first turn with a call of its first tool with arguments {"query": "<last user text>"}; Claude
// Code rejects that input (InputValidationError), sends the rejection back as a tool_result with
// is_error: true, and the fake answers "Tool said: <that text>", which Claude Code prints as its
// result. (Claude Code's first turn ends with a system turn: the Anthropic-format fake looks
// past it; the OpenAI-format one does not, so there the outcome depends on where the gateway put
// that turn, and the test checks the outcome that placement implies.)
//
// Telemetry, error reporting, update checks and every other non-essential request are switched
// off by environment; the runs are traced and must send to loopback addresses only.
//
// Environment (set by tests/client/run.sh):
//   SWITCHBOARD_ROOT_URL  the gateway's root URL, e.g. http://127.0.0.1:8080 (required)
//   SWITCHBOARD_API_KEY   a key of one of the gateway's tenants (default "sk-anything")
//   ANTHROPIC_ALIAS, ANTHROPIC_FAKE_RECORD   the alias routed to the Anthropic-format backend
//                         (default "claude-via-gateway") and its fake's --record file
//   ANTHROPIC_FAKE_URL    that fake's root URL (the count_tokens test asks it directly)
//   ANTHROPIC_BACKEND     the name of that backend in the gateway's config (default "claude")
//   GATEWAY_ACCESS_LOG    the gateway's access log (which backend answered each count_tokens)
//   LOCAL_ALIAS, FAKE_RECORD                 the alias routed to the OpenAI-format engine
//                         (default "local") and its fake's --record file
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {describe, test} from 'node:test';

import * as cli from './cli_support.mjs';

const rootURL = process.env.SWITCHBOARD_ROOT_URL;
if (!rootURL) {
  throw new Error(
      'SWITCHBOARD_ROOT_URL is not set (e.g. http://127.0.0.1:8080); see tests/client/run.sh');
}
const apiKey = process.env.SWITCHBOARD_API_KEY ?? 'sk-anything';
const anthropicAlias = process.env.ANTHROPIC_ALIAS ?? 'claude-via-gateway';
const anthropicBackend = process.env.ANTHROPIC_BACKEND ?? 'claude';
const localAlias = process.env.LOCAL_ALIAS ?? 'local';
const gatewayPort = Number(new URL(rootURL).port);
const anthropicFakeURL = process.env.ANTHROPIC_FAKE_URL;  // its root, for an exact count
const sdk = new Anthropic({baseURL: rootURL, apiKey, maxRetries: 0, timeout: 30_000});
// The backends' max_output_tokens in run.sh's config. Claude Code asks for 32000 when its model
// is a gateway alias: the Anthropic backend allows that, the local engine less.
const localMaxOutputTokens = 8192;
const claudeCodeMaxTokens = 32000;

/** Runs `claude -p PROMPT --output-format json` with every model role on `alias`. */
/** The gateway's access lines for count_tokens so far (GATEWAY_ACCESS_LOG), oldest first. */
function countTokensAccess() {
  const file = process.env.GATEWAY_ACCESS_LOG;
  assert.ok(file, 'GATEWAY_ACCESS_LOG is not set: see tests/client/run.sh');
  const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n') : [];
  // Only whole lines: the gateway may be writing the last one while it is read.
  lines.pop();
  return lines.filter((l) => l.includes('"path":"/v1/messages/count_tokens"'))
      .map((l) => JSON.parse(l));
}

/**
 * One `claude -p /context` on the Anthropic alias: the run, the count_tokens requests its fake
 * recorded and the gateway's access lines for count_tokens during it.
 */
async function contextRun() {
  const record = cli.recordFile('ANTHROPIC_FAKE_RECORD');
  const counted = () => cli.readRecords(record).filter((r) => r.target.includes('/count_tokens'));
  const before = counted().length;
  const accessBefore = countTokensAccess().length;
  const out = await claude(anthropicAlias, '/context');
  assertSucceeded(out);
  cli.assertLoopbackOnly(out.run, gatewayPort);
  assert.match(out.result.result, /Context Usage/, cli.describeRun(out.run));
  const calls = counted().slice(before);
  // The gateway writes its access lines every 100 ms: read until every recorded call has its
  // line and two reads 300 ms apart agree (at most 5 s).
  let access = countTokensAccess().slice(accessBefore);
  for (const deadline = Date.now() + 5000; Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const again = countTokensAccess().slice(accessBefore);
    const settled = again.length === access.length && again.length >= calls.length;
    access = again;
    if (settled)
      break;
  }
  return {out, calls, access};
}

async function claude(alias, prompt, extraEnv = {}) {
  const root = cli.freshDir('claude');
  const home = path.join(root, 'home');
  const project = path.join(root, 'project');
  for (const dir of [home, project])
    fs.mkdirSync(dir, {recursive: true});
  fs.writeFileSync(path.join(project, 'notes.txt'), 'switchboard client test\n');
  const env = cli.cliEnv(home, {
    ANTHROPIC_BASE_URL: rootURL,
    ANTHROPIC_API_KEY: apiKey,
    ANTHROPIC_MODEL: alias,
    ANTHROPIC_DEFAULT_HAIKU_MODEL: alias,
    ANTHROPIC_DEFAULT_SONNET_MODEL: alias,
    ANTHROPIC_DEFAULT_OPUS_MODEL: alias,
    CLAUDE_CODE_SUBAGENT_MODEL: alias,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_BUG_COMMAND: '1',
    ...extraEnv,
  });
  const run = await cli.runTraced(
      cli.claudeBinary(), ['-p', prompt, '--output-format', 'json'], {cwd: project, env});
  let result = null;
  try {
    result = JSON.parse(run.stdout.trim().split('\n').at(-1));
  } catch {
    // not JSON: the assertions show stdout
  }
  return {run, result};
}

function assertSucceeded({run, result}) {
  assert.equal(run.code, 0, `claude -p failed: ${cli.describeRun(run)}`);
  assert.ok(result, `claude -p printed no JSON result: ${cli.describeRun(run)}`);
  assert.equal(result.is_error, false, cli.describeRun(run));
  assert.equal(result.subtype, 'success', cli.describeRun(run));
}

const blocks = (content) => (Array.isArray(content) ? content : []);
const hasCacheControl = (content) => blocks(content).some((b) => b.cache_control);

/** The rejected tool call of turn 2: the assistant's tool_use and the user's tool_result. */
function rejectedToolCall(messages) {
  const use = messages.flatMap((m) => (m.role === 'assistant' ? blocks(m.content) : []))
                  .find((b) => b.type === 'tool_use');
  const last = messages.at(-1);
  const result = blocks(last?.content).find((b) => b.type === 'tool_result');
  return {use, result};
}

describe('Claude Code (claude -p) through the gateway', {timeout: cli.testTimeoutMs}, () => {
  test(
      'Anthropic-format backend: body, cache_control, thinking and beta headers arrive as sent',
      async () => {
        const marker = cli.nonce('cc');
        const prompt = `Say hello to ${marker}`;
        const out = await claude(anthropicAlias, prompt);
        assertSucceeded(out);
        cli.assertLoopbackOnly(out.run, gatewayPort);
        const turns = cli.recordsWith(cli.recordFile('ANTHROPIC_FAKE_RECORD'), marker)
                          .filter((r) => /\/v1\/messages(\?|$)/.test(r.target));
        assert.equal(
            turns.length, 2,
            `two turns reached the backend: ${turns.map((t) => t.target).join(', ')}\n${
                cli.describeRun(out.run)}`);
        const [first, second] = turns;

        // Headers: Anthropic's version and Claude Code's betas, the backend's own key.
        assert.equal(first.headers['anthropic-version'], '2023-06-01');
        const betas = (first.headers['anthropic-beta'] ?? '').split(',').map((s) => s.trim());
        for (const beta
                 of ['claude-code-20250219', 'interleaved-thinking-2025-05-14',
                     'context-management-2025-06-27']) {
          assert.ok(betas.includes(beta), `anthropic-beta carries ${beta}: ${betas}`);
        }
        assert.equal(first.headers['x-api-key'], 'sk-ant-fake-upstream-key');
        assert.ok(
            !JSON.stringify(first.headers).includes(apiKey), 'the client key stays at the gateway');

        // Body: verbatim apart from the model.
        const body = first.json;
        assert.equal(body.model, 'claude-sonnet-4-5');
        assert.equal(body.stream, true);
        assert.equal(body.max_tokens, claudeCodeMaxTokens);
        assert.deepEqual(body.thinking, {type: 'adaptive', display: 'omitted'});
        assert.ok(body.context_management?.edits?.length > 0, 'context_management arrived');
        assert.ok(body.output_config?.effort, 'output_config arrived');
        assert.equal(typeof body.metadata?.user_id, 'string', 'metadata arrived');
        assert.ok(hasCacheControl(body.system), 'cache_control on the system blocks arrived');
        assert.ok(
            body.messages.some((m) => hasCacheControl(m.content)),
            'cache_control on a message block arrived');
        assert.ok(body.tools.some((t) => t.defer_loading === true), 'defer_loading arrived');
        assert.ok(JSON.stringify(body.messages).includes(prompt));

        // Turn 2: the rejected call comes back with is_error and its cache_control.
        const {use, result} = rejectedToolCall(second.json.messages);
        assert.ok(
            use && result,
            `the tool round trip reached the backend: ${
                JSON.stringify(second.json.messages.slice(-2)).slice(0, 800)}`);
        assert.equal(result.tool_use_id, use.id);
        assert.equal(result.is_error, true);
        assert.ok(result.cache_control, 'cache_control on the tool_result arrived');
        assert.ok(second.json.thinking, 'thinking arrived on turn 2 too');
        // The fake answered turn 1 with a signed thinking block; Claude Code sends it back.
        const assistant = second.json.messages.find((m) => m.role === 'assistant');
        const thinking = blocks(assistant?.content).find((b) => b.type === 'thinking');
        assert.ok(
            thinking?.signature,
            `the signed thinking block came back: ${
                JSON.stringify(assistant?.content).slice(0, 400)}`);
        const resultText = typeof result.content === 'string' ?
            result.content :
            blocks(result.content).map((b) => b.text ?? '').join('');
        assert.equal(out.result.result.trim(), `Tool said: ${resultText}`.trim());
      });

  test('Anthropic-format backend: /context counts tokens through count_tokens', async () => {
    // Whether /context asks count_tokens at all is Claude Code's choice (it may estimate instead):
    // a run that sent the gateway no count_tokens request is tried again, at most three times.
    // Every count_tokens the gateway did receive must have been answered by the backend.
    let run;
    for (let attempt = 0; attempt < 3; ++attempt) {
      run = await contextRun();
      if (run.access.length > 0)
        break;
    }
    const {out, calls, access} = run;
    assert.ok(access.length > 0, `Claude Code sent no count_tokens\n${cli.describeRun(out.run)}`);
    for (const line of access) {
      assert.equal(line.status, 200, JSON.stringify(line));
      assert.equal(
          line.backend, anthropicBackend, `answered by the backend: ${JSON.stringify(line)}`);
    }
    assert.ok(
        calls.length > 0,
        `count_tokens reached the Anthropic backend: ${JSON.stringify(access)}\n${
            cli.describeRun(out.run)}`);
    assert.ok(
        (calls[0].headers['anthropic-beta'] ?? '').includes('token-counting-2024-11-01'),
        JSON.stringify(calls[0].headers));
    assert.equal(calls[0].json?.model, 'claude-sonnet-4-5');

    // The gateway's answer is the backend's own count.
    assert.ok(anthropicFakeURL, 'ANTHROPIC_FAKE_URL is set');
    const request = {messages: [{role: 'user', content: `Count these words ${cli.nonce('ct')}`}]};
    const viaGateway = await sdk.messages.countTokens({model: anthropicAlias, ...request});
    const direct = await new Anthropic({baseURL: anthropicFakeURL, apiKey: 'sk-ant-direct'})
                       .messages.countTokens({model: 'claude-sonnet-4-5', ...request});
    assert.equal(viaGateway.input_tokens, direct.input_tokens);
  });

  test(
      'OpenAI-format engine: translated, without Anthropic headers, max_tokens clamped',
      async () => {
        const marker = cli.nonce('cco');
        const prompt = `Say hello to ${marker}`;
        const out = await claude(localAlias, prompt);
        assertSucceeded(out);
        cli.assertLoopbackOnly(out.run, gatewayPort);
        const turns = cli.recordsWith(cli.recordFile('FAKE_RECORD'), marker)
                          .filter((r) => r.target.endsWith('/chat/completions'));
        assert.ok(turns.length > 0, `the engine received the prompt\n${cli.describeRun(out.run)}`);
        const [first, second] = turns;
        for (const name of Object.keys(first.headers)) {
          assert.ok(
              !name.startsWith('anthropic-') && name !== 'x-api-key',
              `an OpenAI-format engine does not get ${name}`);
        }
        const body = first.json;
        assert.equal(
            body.max_tokens ?? body.max_completion_tokens, localMaxOutputTokens,
            'Claude Code\'s max_tokens is clamped to the backend\'s max_output_tokens');
        assert.equal(body.messages[0].role, 'system', 'the system prompt comes first');
        assert.ok(JSON.stringify(body.messages).includes(prompt));
        assert.ok(
            JSON.stringify(body.messages).includes('# Environment'),
            'Claude Code\'s mid-conversation system turn arrived');
        assert.ok(body.tools.every((t) => t.type === 'function'));
        assert.ok(
            !/"cache_control"|"defer_loading"/.test(first.body),
            'Anthropic-only members are not sent to an OpenAI-format engine');

        // Claude Code's turn 1 ends with a system turn. Folded in order, it stays the last
        // message and the engine answers the user's text; lifted into the system prompt, the
        // user spoke last and the engine calls the first tool, which Claude Code rejects.
        const lastRole = body.messages.at(-1).role;
        if (lastRole === 'system') {
          assert.equal(turns.length, 1, cli.describeRun(out.run));
          const lastUser = body.messages.filter((m) => m.role === 'user').at(-1);
          const userText = typeof lastUser.content === 'string' ?
              lastUser.content :
              lastUser.content.map((p) => p.text ?? '').join('');
          assert.ok(userText.endsWith(prompt), userText);
          assert.ok(out.result.result.startsWith('Hello from '), out.result.result);
          assert.ok(out.result.result.endsWith(prompt), out.result.result);
          return;
        }
        assert.equal(lastRole, 'user');
        assert.equal(turns.length, 2, `two turns reached the engine\n${cli.describeRun(out.run)}`);
        // Turn 2: the engine's call and Claude Code's rejection of it, as a tool message.
        const last = second.json.messages.at(-1);
        assert.equal(last.role, 'tool', JSON.stringify(last));
        const call = second.json.messages.flatMap((m) => m.tool_calls ?? [])
                         .find((c) => c.id === last.tool_call_id);
        assert.ok(call, 'the tool message answers the assistant\'s call');
        const text = typeof last.content === 'string' ?
            last.content :
            last.content.map((p) => p.text ?? '').join('');
        assert.match(text, /InputValidationError/, 'is_error\'s text survives');
        assert.equal(out.result.result.trim(), `Tool said: ${text}`.trim());
      });

  // The engine waits 120 ms before each event (asked by a header Claude Code adds to every
  // request); the gateway writes `: keepalive` comments every 50 ms of silence (run.sh), which
  // Claude Code's stream reader must skip.
  test('OpenAI-format engine: a paced stream with keep-alive comments', async () => {
    const marker = cli.nonce('cck');
    const prompt = `Say hello to ${marker}`;
    const out = await claude(
        localAlias, prompt, {ANTHROPIC_CUSTOM_HEADERS: 'x-fake-latency-ms: 120'});
    assertSucceeded(out);
    const turns = cli.recordsWith(cli.recordFile('FAKE_RECORD'), marker)
                      .filter((r) => r.target.endsWith('/chat/completions'));
    assert.ok(turns.length > 0, `the engine received the prompt\n${cli.describeRun(out.run)}`);
    assert.equal(turns[0].headers['x-fake-latency-ms'], '120', 'the engine was asked to pace');
    assert.ok(
        out.result.result.startsWith('Hello from ') || out.result.result.startsWith('Tool said'),
        out.result.result);
  });

  test('OpenAI-format engine: /context is answered by the gateway\'s own count', async () => {
    const out = await claude(localAlias, '/context');
    assertSucceeded(out);
    cli.assertLoopbackOnly(out.run, gatewayPort);
    assert.match(out.result.result, /Context Usage/, cli.describeRun(out.run));
    assert.match(out.result.result, /\*\*Tokens:\*\* [0-9.]+k? \//, out.result.result);
    const counted = cli.readRecords(cli.recordFile('FAKE_RECORD'))
                        .filter((r) => r.target.includes('count_tokens'));
    assert.deepEqual(counted, [], 'an OpenAI-format engine never gets count_tokens');
    // The gateway answers with its estimate, in Anthropic's shape.
    const count = await sdk.messages.countTokens(
        {model: localAlias, messages: [{role: 'user', content: 'Count these words'}]});
    assert.ok(
        Number.isInteger(count.input_tokens) && count.input_tokens > 0, JSON.stringify(count));
  });

  test('a real e-mail address in the prompt still makes the request confidential', async () => {
    const marker = cli.nonce('ccmail');
    const out = await claude(anthropicAlias, `Write to jane.doe@acme-widgets.com about ${marker}`);
    assert.ok(
        out.run.code !== 0 || out.result?.is_error === true,
        `a confidential prompt reached an internal backend: ${cli.describeRun(out.run)}`);
    assert.equal(
        cli.recordsWith(cli.recordFile('ANTHROPIC_FAKE_RECORD'), marker).length, 0,
        'nothing of it reached the internal-clearance backend');
    cli.assertLoopbackOnly(out.run, gatewayPort);
  });
});
