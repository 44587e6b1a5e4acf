// Runs the Codex CLI (@openai/codex, pinned in package-lock.json) unchanged, `codex exec`
// non-interactively, with a model provider pointed at the gateway (wire_api = "responses": Codex
// speaks nothing else) and a self-hosted OpenAI-format engine (the fake upstream) behind it, then
// a closed OpenAI backend.
//
// Codex sends its whole tool set with every turn (function tools, a `namespace` of functions and
// a hosted `web_search`), so the fake always answers the first turn with a call of the first tool,
// exec_command, with arguments {"query": "<prompt>"}. Codex cannot run that (exec_command wants
// `cmd`), answers the call with a function_call_output saying so and asks again; the fake then
// answers "Tool said: <that output>". The test checks both sides of that round trip: Codex's last
// message, and the second request the engine received, carrying the call and its output.
//
// Telemetry, analytics, feedback, update checks, plugins and apps are switched off in the config
// (without the [features] switches Codex 0.171 looks up github.com, api.github.com and
// chatgpt.com); the run is traced and must send to loopback addresses only.
//
// Environment (set by tests/client/run.sh):
//   SWITCHBOARD_URL      the gateway's OpenAI base URL, e.g. http://127.0.0.1:8080/v1 (required)
//   SWITCHBOARD_API_KEY  a key of one of the gateway's tenants (default "sk-anything")
//   SWITCHBOARD_MODEL    the alias routed to the OpenAI-format engine (default "default")
//   FAKE_RECORD          the engine's --record file (required by the round-trip test)
//   OPENAI_ALIAS, OPENAI_FAKE_RECORD  the alias routed to the closed OpenAI backend (default
//                        "gpt-via-gateway") and its fake's --record file
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {describe, test} from 'node:test';

import * as cli from './cli_support.mjs';

const baseURL = process.env.SWITCHBOARD_URL;
if (!baseURL) {
  throw new Error(
      'SWITCHBOARD_URL is not set (e.g. http://127.0.0.1:8080/v1); see tests/client/run.sh');
}
const apiKey = process.env.SWITCHBOARD_API_KEY ?? 'sk-anything';
const model = process.env.SWITCHBOARD_MODEL ?? 'default';
const openaiAlias = process.env.OPENAI_ALIAS ?? 'gpt-via-gateway';
const gatewayPort = Number(new URL(baseURL).port);

/** config.toml for a provider at the gateway, everything that is not the model call off. */
function codexConfig(modelAlias = model, providerExtra = '') {
  return `model = "${modelAlias}"
model_provider = "switchboard"
check_for_update_on_startup = false

[model_providers.switchboard]
name = "Switchboard"
base_url = "${baseURL}"
env_key = "SWITCHBOARD_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
${providerExtra}
[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"
trace_exporter = "none"
metrics_exporter = "none"

[features]
plugins = false
remote_plugin = false
plugin_sharing = false
apps = false
tool_suggest = false
skill_mcp_dependency_install = false
in_app_updates = false
`;
}

/** Runs `codex exec PROMPT` in a fresh project directory; resolves to the run and last message. */
async function codexExec(prompt, modelAlias = model, providerExtra = '') {
  const root = cli.freshDir('codex');
  const home = path.join(root, 'home');
  const codexHome = path.join(root, 'codex-home');
  const project = path.join(root, 'project');
  for (const dir of [home, codexHome, project])
    fs.mkdirSync(dir, {recursive: true});
  fs.writeFileSync(path.join(codexHome, 'config.toml'), codexConfig(modelAlias, providerExtra));
  fs.writeFileSync(path.join(project, 'notes.txt'), 'switchboard client test\n');
  const lastMessageFile = path.join(root, 'last-message.txt');
  const run = await cli.runTraced(
      process.execPath,
      [
        cli.codexLauncher(), 'exec', '--strict-config', '--skip-git-repo-check', '--ephemeral',
        '--color', 'never', '--output-last-message', lastMessageFile, prompt
      ],
      {cwd: project, env: cli.cliEnv(home, {CODEX_HOME: codexHome, SWITCHBOARD_API_KEY: apiKey})});
  const lastMessage =
      fs.existsSync(lastMessageFile) ? fs.readFileSync(lastMessageFile, 'utf8').trim() : null;
  return {run, lastMessage};
}

const chatRequests = (records) => records.filter((r) => r.target.endsWith('/chat/completions'));
const responsesRequests = (records) => records.filter((r) => r.target.endsWith('/responses'));

/**
 * Codex's two turns as an OpenAI-format engine received them, translated to chat completions:
 * the prompt and Codex's tools as function tools, then the engine's call and Codex's output,
 * which Codex's last message repeats after "Tool said: ".
 */
function assertChatRoundTrip(turns, prompt, lastMessage, run) {
  assert.equal(
      turns.length, 2,
      `expected 2 upstream requests for this prompt, got ${turns.length}: ${
          turns.map((t) => t.target).join(', ')}\n${cli.describeRun(run)}`);
  const [first, second] = turns.map((t) => t.json);
  assert.ok(first && second, 'the upstream bodies are JSON');

  // First turn: the prompt as the last user message, Codex's tools as chat function tools
  // (its namespace tools flattened or dropped, its hosted web_search not sent as is).
  const lastUser = first.messages.filter((m) => m.role === 'user').at(-1);
  assert.ok(JSON.stringify(lastUser.content).includes(prompt), JSON.stringify(lastUser));
  assert.ok(Array.isArray(first.tools) && first.tools.length > 0, 'tools were forwarded');
  for (const tool of first.tools) {
    assert.equal(
        tool.type, 'function',
        `a chat engine gets function tools only: ${JSON.stringify(tool).slice(0, 200)}`);
  }
  assert.equal(first.tools[0].function.name, 'exec_command');

  // Second turn: the engine's call and Codex's answer to it, paired by id.
  const assistant = second.messages.find((m) => m.role === 'assistant' && m.tool_calls?.length);
  assert.ok(
      assistant,
      `the second request carries the tool call: ${JSON.stringify(second.messages.slice(-3))}`);
  const call = assistant.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'exec_command');
  assert.deepEqual(JSON.parse(call.function.arguments), {query: prompt});
  const toolMessage = second.messages.at(-1);
  assert.equal(toolMessage.role, 'tool', JSON.stringify(toolMessage));
  assert.equal(toolMessage.tool_call_id, call.id);
  const output = typeof toolMessage.content === 'string' ?
      toolMessage.content :
      toolMessage.content.map((p) => p.text ?? '').join('');
  assert.match(output, /cmd/, 'Codex reported the missing `cmd` argument as the tool output');

  // And Codex printed the engine's answer to that output.
  assert.equal(lastMessage, `Tool said: ${output}`.trim(), cli.describeRun(run));
}

/** The same two turns passed through to a Responses endpoint, Codex's members intact. */
function assertResponsesRoundTrip(turns, prompt, lastMessage, run) {
  assert.equal(
      turns.length, 2,
      `two Responses requests reached the backend: ${turns.map((t) => t.target).join(', ')}\n${
          cli.describeRun(run)}`);
  const [first, second] = turns.map((t) => t.json);
  assert.equal(first.stream, true);
  assert.equal(first.store, false);
  assert.deepEqual(first.include, ['reasoning.encrypted_content']);
  assert.equal(typeof first.prompt_cache_key, 'string');
  assert.ok(first.reasoning, 'reasoning arrived');
  const types = new Set(first.tools.map((t) => t.type));
  for (const type of ['function', 'namespace', 'web_search']) {
    assert.ok(types.has(type), `a ${type} tool arrived: ${[...types]}`);
  }
  assert.ok(first.input.some((i) => i.role === 'developer'), 'developer messages arrived');

  const call = second.input.find((i) => i.type === 'function_call');
  const output = second.input.at(-1);
  assert.ok(call, JSON.stringify(second.input.slice(-2)));
  assert.equal(output.type, 'function_call_output');
  assert.equal(output.call_id, call.call_id);
  assert.equal(call.name, 'exec_command');
  assert.deepEqual(JSON.parse(call.arguments), {query: prompt});
  assert.equal(lastMessage, `Tool said: ${output.output}`.trim(), cli.describeRun(run));
}

describe('Codex CLI (codex exec) through /v1/responses', {timeout: cli.testTimeoutMs}, () => {
  test('completes a tool round trip against a self-hosted engine, on loopback only', async () => {
    const marker = cli.nonce('codex');
    const prompt = `Look up ${marker} in the notes`;
    const {run, lastMessage} = await codexExec(prompt);
    assert.equal(run.code, 0, `codex exec failed: ${cli.describeRun(run)}`);
    cli.assertLoopbackOnly(run, gatewayPort);
    const records = cli.recordsWith(cli.recordFile('FAKE_RECORD'), marker);
    assertChatRoundTrip(chatRequests(records), prompt, lastMessage, run);
  });

  // The engine waits 120 ms before each event (asked by a header Codex adds to every request);
  // the gateway writes `: keepalive` comments every 50 ms of silence (run.sh), which Codex's
  // stream reader must skip.
  test('completes a tool round trip through a paced stream with keep-alive comments', async () => {
    const marker = cli.nonce('codexk');
    const prompt = `Look up ${marker} in the notes`;
    const {run, lastMessage} =
        await codexExec(prompt, model, 'http_headers = { "x-fake-latency-ms" = "120" }\n');
    assert.equal(run.code, 0, `codex exec failed: ${cli.describeRun(run)}`);
    const records = cli.recordsWith(cli.recordFile('FAKE_RECORD'), marker);
    const turns = chatRequests(records);
    assert.ok(turns.length > 0, cli.describeRun(run));
    assert.equal(turns[0].headers['x-fake-latency-ms'], '120', 'the engine was asked to pace');
    assertChatRoundTrip(turns, prompt, lastMessage, run);
  });

  // The issue asks for Responses passed through to OpenAI; a gateway that translates to chat
  // completions instead must still carry the round trip.
  test('completes a tool round trip against a closed OpenAI backend', async () => {
    const marker = cli.nonce('codexoa');
    const prompt = `Look up ${marker} in the notes`;
    const {run, lastMessage} = await codexExec(prompt, openaiAlias);
    assert.equal(run.code, 0, `codex exec failed: ${cli.describeRun(run)}`);
    cli.assertLoopbackOnly(run, gatewayPort);
    const records = cli.recordsWith(cli.recordFile('OPENAI_FAKE_RECORD'), marker);
    assert.ok(records.length > 0, 'the closed backend received the prompt');
    for (const r of records) {
      assert.equal(r.json?.model, 'gpt-4o');
      assert.equal(r.headers.authorization, 'Bearer sk-openai-fake-upstream-key');
    }
    const passedThrough = responsesRequests(records);
    if (passedThrough.length > 0) {
      assertResponsesRoundTrip(passedThrough, prompt, lastMessage, run);
    } else {
      assertChatRoundTrip(chatRequests(records), prompt, lastMessage, run);
    }
  });

  test('reports the gateway\'s error and exits non-zero for an unknown model', async () => {
    const {run} = await codexExec('say hi', 'no-such-model-alias');
    assert.notEqual(
        run.code, 0, `codex exec succeeded with an unknown model: ${cli.describeRun(run)}`);
    assert.match(
        run.stdout + run.stderr, /no-such-model-alias|404|not found/i, cli.describeRun(run));
    cli.assertLoopbackOnly(run, gatewayPort);
  });
});
