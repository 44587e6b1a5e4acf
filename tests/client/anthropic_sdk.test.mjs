// Drives a running Switchboard gateway with the official Anthropic Node SDK: the client speaks
// Anthropic's Messages API (POST /v1/messages) and the gateway answers from an OpenAI-format
// backend, translating both ways. The SDK must parse every answer (plain, streamed, tool calls,
// errors) as it parses Anthropic's own.
//
// Environment:
//   SWITCHBOARD_ROOT_URL  the gateway's root URL, e.g. http://127.0.0.1:8080 (required; the SDK
//                         appends /v1/messages)
//   SWITCHBOARD_API_KEY   a key of one of the gateway's tenants (default "sk-anything")
//   LOCAL_ALIAS           the alias routed to the OpenAI-format backend (default "local")
//   FAKE_NAME             that fake upstream's --name, which prefixes its replies (default "fake")
//   FAKE_BACKEND          the gateway's backend name for it (default "local")
//   ANTHROPIC_ALIAS       the alias routed to the Anthropic-format backend (default
//                         "claude-via-gateway")
//   ANTHROPIC_FAKE_NAME   that fake's --name (default "fake-anthropic")
//   ANTHROPIC_BACKEND     the gateway's backend name for it (default "claude")
//   ANTHROPIC_BACKEND_MODEL  that backend's model (default "claude-sonnet-4-5")
//
// tests/client/run.sh starts the fakes and the gateway and sets these.
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';
import {describe, test} from 'node:test';

const rootURL = process.env.SWITCHBOARD_ROOT_URL;
if (!rootURL) {
  throw new Error(
      'SWITCHBOARD_ROOT_URL is not set (e.g. http://127.0.0.1:8080); see tests/client/run.sh');
}
const apiKey = process.env.SWITCHBOARD_API_KEY ?? 'sk-anything';
const model = process.env.LOCAL_ALIAS ?? 'local';
const fakeName = process.env.FAKE_NAME ?? 'fake';
const backendName = process.env.FAKE_BACKEND ?? 'local';
const anthropicAlias = process.env.ANTHROPIC_ALIAS ?? 'claude-via-gateway';
const anthropicFakeName = process.env.ANTHROPIC_FAKE_NAME ?? 'fake-anthropic';
const anthropicBackend = process.env.ANTHROPIC_BACKEND ?? 'claude';
const anthropicBackendModel = process.env.ANTHROPIC_BACKEND_MODEL ?? 'claude-sonnet-4-5';

const client = new Anthropic({baseURL: rootURL, apiKey, maxRetries: 0, timeout: 30_000});

const maxTokens = 256;
const prompt = 'Say hello to the switchboard';
const messages = [{role: 'user', content: prompt}];
const expectedReply = `Hello from ${fakeName}: ${prompt}`;
const wordCount = (text) => text.split(/\s+/).filter(Boolean).length;

const lookupTool = {
  name: 'lookup',
  description: 'Looks a query up in the knowledge base.',
  input_schema: {
    type: 'object',
    properties: {query: {type: 'string', description: 'What to look up'}},
    required: ['query'],
  },
};
const toolPrompt = 'What is the weather in Paris?';
const toolOutput = 'sunny, 21 C';

/** The assistant turn with `toolUse` and the user turn that answers it, after the question. */
function toolRoundTrip(assistantContent, toolUse) {
  return [
    {role: 'user', content: toolPrompt},
    {role: 'assistant', content: assistantContent},
    {
      role: 'user',
      content: [{type: 'tool_result', tool_use_id: toolUse.id, content: toolOutput}],
    },
  ];
}

function assertTextMessage(message, {text, alias = model, stopReason = 'end_turn'}) {
  assert.equal(message.type, 'message');
  assert.equal(message.role, 'assistant');
  assert.match(message.id, /^msg_/);
  assert.equal(message.model, alias, 'the model is the one expected');
  assert.deepEqual(message.content, [{type: 'text', text}]);
  assert.equal(message.stop_reason, stopReason);
  assert.equal(message.stop_sequence, null);
  assert.ok(message.usage.input_tokens > 0, `input_tokens > 0: ${message.usage.input_tokens}`);
  assert.equal(message.usage.output_tokens, wordCount(text));
}

/** The single tool_use block of `message`, checked against the fake's rule. */
function assertLookupCall(message, query) {
  assert.equal(message.stop_reason, 'tool_use');
  const toolUses = message.content.filter((block) => block.type === 'tool_use');
  assert.equal(toolUses.length, 1, JSON.stringify(message.content));
  const [toolUse] = toolUses;
  assert.equal(typeof toolUse.id, 'string');
  assert.ok(toolUse.id.length > 0, 'tool_use has an id');
  assert.equal(toolUse.name, 'lookup');
  assert.deepEqual(toolUse.input, {query});
  assert.ok(message.usage.input_tokens > 0);
  assert.ok(message.usage.output_tokens > 0);
  return toolUse;
}

describe('messages through the gateway to an OpenAI-format backend', () => {
  test('non-stream create returns the reply, end_turn and usage under the alias', async () => {
    const {data: message, response} =
        await client.messages.create({model, max_tokens: maxTokens, messages}).withResponse();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-switchboard-backend'), backendName);
    assert.ok(response.headers.get('x-request-id'), 'x-request-id is set');
    assertTextMessage(message, {text: expectedReply});
    assert.equal(message.usage.cache_read_input_tokens, 0);
  });

  test('the request id reaches the SDK as _request_id and on errors as requestID', async () => {
    const {data: message, response} =
        await client.messages.create({model, max_tokens: maxTokens, messages}).withResponse();
    const requestId = response.headers.get('x-request-id');
    assert.ok(requestId, 'x-request-id is set');
    assert.equal(message._request_id, requestId);
    await assert.rejects(
        client.messages.create({model: 'no-such-model-alias', max_tokens: maxTokens, messages}),
        (err) => {
          assert.ok(err.requestID, `requestID on the error: ${err.requestID}`);
          return true;
        });
  });

  test('a system prompt and earlier turns are kept; the last user turn is answered', async () => {
    const message = await client.messages.create({
      model,
      max_tokens: maxTokens,
      system: [{type: 'text', text: 'You are a test.'}],
      messages: [
        {role: 'user', content: 'first question'},
        {role: 'assistant', content: [{type: 'text', text: 'first answer'}]},
        {role: 'user', content: [{type: 'text', text: 'second question'}]},
      ],
    });
    assertTextMessage(message, {text: `Hello from ${fakeName}: second question`});
  });

  test('a Bearer token (authToken) authenticates like x-api-key', async () => {
    const bearer =
        new Anthropic({baseURL: rootURL, apiKey: null, authToken: apiKey, maxRetries: 0});
    const message = await bearer.messages.create({model, max_tokens: maxTokens, messages});
    assertTextMessage(message, {text: expectedReply});
  });

  test('max_tokens below the reply length stops with max_tokens', async () => {
    const message = await client.messages.create({model, max_tokens: 2, messages});
    assertTextMessage(message, {text: 'Hello from', stopReason: 'max_tokens'});
    assert.equal(message.usage.output_tokens, 2);
  });

  test('messages.stream() delivers text events and a final message like create()', async () => {
    const plain = await client.messages.create({model, max_tokens: maxTokens, messages});
    const stream = client.messages.stream({model, max_tokens: maxTokens, messages});
    const deltas = [];
    stream.on('text', (delta) => deltas.push(delta));
    const final = await stream.finalMessage();
    assert.ok(deltas.length > 1, `more than one text delta: ${JSON.stringify(deltas)}`);
    assert.equal(deltas.join(''), expectedReply);
    assertTextMessage(final, {text: expectedReply});
    assert.equal(final.usage.input_tokens, plain.usage.input_tokens, 'the same input count');
    assert.equal(final.usage.output_tokens, plain.usage.output_tokens, 'the same output count');
    assert.equal(await stream.finalText(), expectedReply);
  });

  // The engine waits 150 ms before each event; the gateway (server.stream_keepalive: 50ms in
  // run.sh) writes `: keepalive` comments meanwhile, which the SDK must skip.
  test('messages.stream() with keep-alive comments between its events', async () => {
    const headers = {'x-fake-latency-ms': '150'};
    const raw = await fetch(`${rootURL}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': apiKey,
        'anthropic-version': '2023-06-01',
        ...headers,
      },
      body: JSON.stringify({model, max_tokens: maxTokens, messages, stream: true}),
    });
    assert.equal(raw.status, 200);
    assert.match(await raw.text(), /\n: keepalive\n\nevent: /, 'comments between the events');
    const stream = client.messages.stream({model, max_tokens: maxTokens, messages}, {headers});
    const deltas = [];
    stream.on('text', (delta) => deltas.push(delta));
    const final = await stream.finalMessage();
    assert.equal(deltas.join(''), expectedReply);
    assertTextMessage(final, {text: expectedReply});
  });

  test('create({stream: true}) yields the Messages event sequence', async () => {
    const {data: stream, response} =
        await client.messages.create({model, max_tokens: maxTokens, messages, stream: true})
            .withResponse();
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(response.headers.get('x-switchboard-backend'), backendName);
    const events = [];
    for await (const event of stream) {
      events.push(event);
    }
    const types = events.map((e) => e.type);
    assert.equal(types[0], 'message_start');
    assert.equal(types[1], 'content_block_start');
    assert.deepEqual(types.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
    const start = events[0].message;
    assert.equal(start.model, model);
    assert.deepEqual(start.content, []);
    assert.equal(start.stop_reason, null);
    assert.deepEqual(events[1].content_block, {type: 'text', text: ''});
    const deltas = events.filter((e) => e.type === 'content_block_delta');
    assert.ok(deltas.length > 1);
    for (const delta of deltas) {
      assert.equal(delta.index, 0);
      assert.equal(delta.delta.type, 'text_delta');
    }
    assert.equal(deltas.map((e) => e.delta.text).join(''), expectedReply);
    const messageDelta = events.at(-2);
    assert.equal(messageDelta.delta.stop_reason, 'end_turn');
    assert.equal(messageDelta.usage.output_tokens, wordCount(expectedReply));
  });

  test('a tool definition gets a tool_use block with the input as an object', async () => {
    const message = await client.messages.create({
      model,
      max_tokens: maxTokens,
      tools: [lookupTool],
      messages: [{role: 'user', content: toolPrompt}],
    });
    assert.equal(message.model, model);
    assertLookupCall(message, toolPrompt);
  });

  test('the tool_result of a tool_use is answered with text', async () => {
    const first = await client.messages.create({
      model,
      max_tokens: maxTokens,
      tools: [lookupTool],
      messages: [{role: 'user', content: toolPrompt}],
    });
    const toolUse = assertLookupCall(first, toolPrompt);
    const second = await client.messages.create({
      model,
      max_tokens: maxTokens,
      tools: [lookupTool],
      messages: toolRoundTrip(first.content, toolUse),
    });
    assertTextMessage(second, {text: `Tool said: ${toolOutput}`});
  });

  test('a streamed tool call is assembled by the SDK from input_json_delta', async () => {
    const stream = client.messages.stream({
      model,
      max_tokens: maxTokens,
      tools: [lookupTool],
      messages: [{role: 'user', content: toolPrompt}],
    });
    const partials = [];
    stream.on('inputJson', (partial) => partials.push(partial));
    const rawTypes = [];
    stream.on('streamEvent', (event) => {
      if (event.type === 'content_block_start') {
        rawTypes.push(event.content_block.type);
      }
    });
    const final = await stream.finalMessage();
    assert.deepEqual(rawTypes, ['tool_use'], 'one tool_use block started');
    assert.ok(partials.length > 0, 'input_json_delta events arrived');
    assert.deepEqual(JSON.parse(partials.join('')), {query: toolPrompt});
    const toolUse = assertLookupCall(final, toolPrompt);

    const answer = client.messages.stream({
      model,
      max_tokens: maxTokens,
      tools: [lookupTool],
      messages: toolRoundTrip(final.content, toolUse),
    });
    assert.equal(await answer.finalText(), `Tool said: ${toolOutput}`);
    assertTextMessage(await answer.finalMessage(), {text: `Tool said: ${toolOutput}`});
  });

  test('concurrent requests each get their own reply', async () => {
    const prompts = Array.from({length: 6}, (_, i) => `message number ${i}`);
    const ask = async (content, streamed) => {
      const request = {model, max_tokens: maxTokens, messages: [{role: 'user', content}]};
      return streamed ? client.messages.stream(request).finalText() :
                        (await client.messages.create(request)).content[0].text;
    };
    const replies = await Promise.all(prompts.map((p, i) => ask(p, i % 2 === 1)));
    assert.deepEqual(replies, prompts.map((p) => `Hello from ${fakeName}: ${p}`));
  });
});

// The Anthropic lane relays the backend's answer as it comes: its model is the backend's.
describe('messages through the gateway to an Anthropic-format backend', () => {
  const reply = `Hello from ${anthropicFakeName}: ${prompt}`;

  test('non-stream create is answered by the Anthropic backend', async () => {
    const {data: message, response} =
        await client.messages.create({model: anthropicAlias, max_tokens: maxTokens, messages})
            .withResponse();
    assert.equal(response.headers.get('x-switchboard-backend'), anthropicBackend);
    assertTextMessage(message, {text: reply, alias: anthropicBackendModel});
  });

  test('a streamed tool call and its result pass through the Anthropic lane', async () => {
    const request = {model: anthropicAlias, max_tokens: maxTokens, tools: [lookupTool]};
    const final =
        await client.messages.stream({...request, messages: [{role: 'user', content: toolPrompt}]})
            .finalMessage();
    const toolUse = assertLookupCall(final, toolPrompt);
    const answer =
        await client.messages.stream({...request, messages: toolRoundTrip(final.content, toolUse)})
            .finalMessage();
    assertTextMessage(answer, {text: `Tool said: ${toolOutput}`, alias: anthropicBackendModel});
  });
});

describe('errors map to the Anthropic SDK error classes', () => {
  /** Checks the Anthropic error body the SDK kept on `err`. */
  function assertErrorBody(err, type) {
    assert.equal(err.error?.type, 'error', JSON.stringify(err.error));
    assert.equal(err.error?.error?.type, type);
    assert.equal(typeof err.error?.error?.message, 'string');
    assert.ok(err.error.error.message.length > 0);
  }

  test('a wrong API key is an AuthenticationError (401)', async () => {
    const stranger = new Anthropic({baseURL: rootURL, apiKey: 'sk-not-a-tenant', maxRetries: 0});
    await assert.rejects(
        stranger.messages.create({model, max_tokens: maxTokens, messages}), (err) => {
          assert.ok(
              err instanceof Anthropic.AuthenticationError,
              `got ${err?.constructor?.name}: ${err}`);
          assert.equal(err.status, 401);
          assertErrorBody(err, 'authentication_error');
          return true;
        });
  });

  test('an unknown model is a NotFoundError (404)', async () => {
    await assert.rejects(
        client.messages.create({model: 'no-such-model-alias', max_tokens: maxTokens, messages}),
        (err) => {
          assert.ok(
              err instanceof Anthropic.NotFoundError, `got ${err?.constructor?.name}: ${err}`);
          assert.equal(err.status, 404);
          assertErrorBody(err, 'not_found_error');
          assert.match(err.error.error.message, /no-such-model-alias/);
          return true;
        });
  });

  test('an unknown model on a stream request is a NotFoundError (404)', async () => {
    const stream =
        client.messages.stream({model: 'no-such-model-alias', max_tokens: maxTokens, messages});
    await assert.rejects(stream.finalMessage(), (err) => {
      assert.ok(err instanceof Anthropic.NotFoundError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 404);
      return true;
    });
  });

  test('an upstream 429 is a RateLimitError (429) with Retry-After', async () => {
    await assert.rejects(
        client.messages.create(
            {model, max_tokens: maxTokens, messages}, {headers: {'x-fake-status': '429'}}),
        (err) => {
          assert.ok(
              err instanceof Anthropic.RateLimitError, `got ${err?.constructor?.name}: ${err}`);
          assert.equal(err.status, 429);
          assertErrorBody(err, 'rate_limit_error');
          assert.equal(err.headers?.get('retry-after'), '1', 'Retry-After is relayed');
          return true;
        });
  });

  test('a request without max_tokens is a 400 in Anthropic\'s error shape', async () => {
    const res = await fetch(`${rootURL.replace(/\/$/, '')}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': apiKey,
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify({model, messages}),
    });
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = await res.json();
    assert.equal(body.type, 'error');
    assert.equal(body.error?.type, 'invalid_request_error');
    assert.match(body.error.message, /max_tokens/);
  });

  test('an invalid request through the SDK is a BadRequestError (400)', async () => {
    await assert.rejects(
        client.messages.create({model, max_tokens: maxTokens, messages: []}), (err) => {
          assert.ok(
              err instanceof Anthropic.BadRequestError, `got ${err?.constructor?.name}: ${err}`);
          assert.equal(err.status, 400);
          assertErrorBody(err, 'invalid_request_error');
          return true;
        });
  });

  test('a malformed JSON body is a 400 in Anthropic\'s error shape', async () => {
    const res = await fetch(`${rootURL.replace(/\/$/, '')}/v1/messages`, {
      method: 'POST',
      headers: {'content-type': 'application/json', 'x-api-key': apiKey},
      body: `{"model": "${model}", "messages": [`,
    });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(body.type, 'error');
    assert.equal(body.error?.type, 'invalid_request_error');
    assert.equal(typeof body.error.message, 'string');
  });
});
