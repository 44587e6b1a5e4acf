// Drives a running Switchboard gateway with the official OpenAI Node SDK, the way application
// teams will: the SDK must parse every answer (plain, streamed, tool calls, errors) without any
// special case, whether the backend speaks OpenAI's format or Anthropic's (translated by the
// gateway both ways).
//
// Environment:
//   SWITCHBOARD_URL      the gateway's OpenAI base URL, e.g. http://127.0.0.1:8080/v1 (required)
//   SWITCHBOARD_API_KEY  a key of one of the gateway's tenants (default "sk-anything")
//   SWITCHBOARD_MODEL    the alias routed to the OpenAI-format backend (default "default")
//   FAKE_NAME            that fake upstream's --name, which prefixes its replies (default "fake")
//   FAKE_BACKEND         the gateway's backend name for it (default "local")
//   ANTHROPIC_ALIAS      the alias routed to the Anthropic-format backend (default
//                        "claude-via-gateway")
//   ANTHROPIC_FAKE_NAME  that fake's --name (default "fake-anthropic")
//   ANTHROPIC_BACKEND    the gateway's backend name for it (default "claude")
//
// tests/client/run.sh starts the fakes and the gateway and sets these.
import assert from 'node:assert/strict';
import {describe, test} from 'node:test';
import OpenAI from 'openai';

const baseURL = process.env.SWITCHBOARD_URL;
if (!baseURL) {
  throw new Error(
      'SWITCHBOARD_URL is not set (e.g. http://127.0.0.1:8080/v1); see tests/client/run.sh');
}
const model = process.env.SWITCHBOARD_MODEL ?? 'default';
const fakeName = process.env.FAKE_NAME ?? 'fake';
const backendName = process.env.FAKE_BACKEND ?? 'local';
const apiKey = process.env.SWITCHBOARD_API_KEY ?? 'sk-anything';
const anthropicAlias = process.env.ANTHROPIC_ALIAS ?? 'claude-via-gateway';
const anthropicFakeName = process.env.ANTHROPIC_FAKE_NAME ?? 'fake-anthropic';
const anthropicBackend = process.env.ANTHROPIC_BACKEND ?? 'claude';

const client = new OpenAI({baseURL, apiKey, maxRetries: 0, timeout: 30_000});

const prompt = 'Say hello to the switchboard';
const messages = [
  {role: 'system', content: 'You are a test.'},
  {role: 'user', content: prompt},
];
const expectedReply = `Hello from ${fakeName}: ${prompt}`;
const expectedCompletionTokens = expectedReply.split(/\s+/).filter(Boolean).length;

/** Collects a stream: every chunk, the joined content and the finish reasons seen. */
async function collect(stream) {
  const chunks = [];
  let content = '';
  const finishReasons = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
    for (const choice of chunk.choices ?? []) {
      if (choice.delta?.content) {
        content += choice.delta.content;
      }
      if (choice.finish_reason) {
        finishReasons.push(choice.finish_reason);
      }
    }
  }
  return {chunks, content, finishReasons};
}

function assertConsistentUsage(usage, completionTokens = expectedCompletionTokens) {
  assert.ok(usage, 'usage is present');
  assert.equal(typeof usage.prompt_tokens, 'number');
  assert.equal(typeof usage.completion_tokens, 'number');
  assert.equal(typeof usage.total_tokens, 'number');
  assert.ok(usage.prompt_tokens > 0, 'prompt_tokens > 0');
  assert.equal(usage.completion_tokens, completionTokens);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
}

describe('chat completions through the gateway', () => {
  test('non-stream completion returns the upstream reply and consistent usage', async () => {
    const completion = await client.chat.completions.create({model, messages});
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.choices.length, 1);
    assert.equal(completion.choices[0].message.role, 'assistant');
    assert.equal(completion.choices[0].message.content, expectedReply);
    assert.equal(completion.choices[0].finish_reason, 'stop');
    assertConsistentUsage(completion.usage);
  });

  test('non-stream response carries the routing decision headers', async () => {
    const {data, response} = await client.chat.completions.create({model, messages}).withResponse();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-switchboard-backend'), backendName);
    assert.ok(response.headers.get('x-request-id'), 'x-request-id is set');
    assert.equal(data.choices[0].message.content, expectedReply);
  });

  test('client x-request-id is kept', async () => {
    const {response} =
        await client.chat.completions
            .create({model, messages}, {headers: {'x-request-id': 'client-chosen-id-42'}})
            .withResponse();
    assert.equal(response.headers.get('x-request-id'), 'client-chosen-id-42');
  });

  test('stream joins to the non-stream content and ends with finish_reason stop', async () => {
    const plain = await client.chat.completions.create({model, messages});
    const stream = await client.chat.completions.create({model, messages, stream: true});
    const {chunks, content, finishReasons} = await collect(stream);
    assert.ok(chunks.length > 1, 'more than one chunk');
    for (const chunk of chunks) {
      assert.equal(chunk.object, 'chat.completion.chunk');
    }
    assert.equal(content, plain.choices[0].message.content);
    assert.deepEqual(finishReasons, ['stop']);
    assert.equal(chunks.at(-1).choices[0]?.finish_reason, 'stop', 'the last chunk finishes');
    const withUsage = chunks.filter((c) => c.usage);
    assert.equal(withUsage.length, 0, 'no usage chunk without stream_options.include_usage');
  });

  test('stream with include_usage ends with a usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model,
      messages,
      stream: true,
      stream_options: {include_usage: true},
    });
    const {chunks, content, finishReasons} = await collect(stream);
    assert.equal(content, expectedReply);
    assert.deepEqual(finishReasons, ['stop']);
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, [], 'the usage chunk has no choices');
    assertConsistentUsage(last.usage);
    assert.equal(chunks.filter((c) => c.usage).length, 1, 'exactly one chunk carries usage');
  });

  // The fake waits 150 ms before each event; the gateway (server.stream_keepalive: 50ms in
  // run.sh) writes `: keepalive` comments meanwhile, which the SDK must skip.
  test('a stream with keep-alive comments between its events parses to the same reply', async () => {
    const headers = {'x-fake-latency-ms': '150'};
    const raw = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: {'content-type': 'application/json', 'authorization': `Bearer ${apiKey}`, ...headers},
      body: JSON.stringify({model, messages, stream: true}),
    });
    assert.equal(raw.status, 200);
    assert.match(await raw.text(), /\n: keepalive\n\ndata: /, 'comments between the events');
    const stream = await client.chat.completions.create({model, messages, stream: true}, {headers});
    const {chunks, content, finishReasons} = await collect(stream);
    assert.equal(content, expectedReply);
    assert.deepEqual(finishReasons, ['stop']);
    for (const chunk of chunks) {
      assert.equal(chunk.object, 'chat.completion.chunk');
    }
  });

  test('stream response carries the routing decision headers', async () => {
    const {data: stream, response} =
        await client.chat.completions.create({model, messages, stream: true}).withResponse();
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(response.headers.get('x-switchboard-backend'), backendName);
    const {content} = await collect(stream);
    assert.equal(content, expectedReply);
  });

  test('concurrent requests each get their own reply', async () => {
    const prompts = Array.from({length: 8}, (_, i) => `request number ${i}`);
    const ask = async (content, stream) => {
      const request = {model, messages: [{role: 'user', content}], stream};
      const answer = await client.chat.completions.create(request);
      return stream ? (await collect(answer)).content : answer.choices[0].message.content;
    };
    const replies = await Promise.all(prompts.map((p, i) => ask(p, i % 2 === 1)));
    assert.deepEqual(replies, prompts.map((p) => `Hello from ${fakeName}: ${p}`));
  });
});

describe('models', () => {
  test('models.list() lists the alias', async () => {
    const ids = [];
    for await (const m of client.models.list()) {
      assert.equal(m.object, 'model');
      ids.push(m.id);
    }
    assert.ok(ids.includes(model), `alias ${model} in ${JSON.stringify(ids)}`);
  });
});

describe('errors map to the SDK error classes', () => {
  test('a wrong API key is an AuthenticationError (401)', async () => {
    const stranger = new OpenAI({baseURL, apiKey: 'sk-not-a-tenant', maxRetries: 0});
    await assert.rejects(stranger.chat.completions.create({model, messages}), (err) => {
      assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 401);
      assert.ok(err.error?.message, 'error body has a message');
      return true;
    });
  });

  test('unknown model alias is a NotFoundError (404)', async () => {
    await assert.rejects(
        client.chat.completions.create({model: 'no-such-model-alias', messages}),
        (err) => {
          assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err}`);
          assert.equal(err.status, 404);
          assert.ok(err.error?.message, 'error body has a message');
          assert.ok(err.message.includes('404'), err.message);
          return true;
        },
    );
  });

  test('upstream 429 is a RateLimitError (429)', async () => {
    await assert.rejects(
        client.chat.completions.create({model, messages}, {headers: {'x-fake-status': '429'}}),
        (err) => {
          assert.ok(err instanceof OpenAI.RateLimitError, `got ${err?.constructor?.name}: ${err}`);
          assert.equal(err.status, 429);
          assert.ok(err.error?.message, 'error body has a message');
          assert.equal(err.headers?.get('retry-after'), '1', 'Retry-After is relayed');
          return true;
        },
    );
  });

  test('upstream 429 on a stream request is a RateLimitError (429)', async () => {
    await assert.rejects(
        (async () => {
          const stream = await client.chat.completions.create(
              {model, messages, stream: true},
              {headers: {'x-fake-status': '429'}},
          );
          await collect(stream);
        })(),
        (err) => {
          assert.ok(err instanceof OpenAI.RateLimitError, `got ${err?.constructor?.name}: ${err}`);
          assert.equal(err.status, 429);
          return true;
        },
    );
  });

  test('request without messages is a BadRequestError (400)', async () => {
    await assert.rejects(client.post('/chat/completions', {body: {model}}), (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 400);
      assert.ok(err.error?.message, 'error body has a message');
      return true;
    });
  });

  test('malformed JSON body is a 400 in the OpenAI error shape', async () => {
    const res = await fetch(`${baseURL.replace(/\/$/, '')}/chat/completions`, {
      method: 'POST',
      headers: {'content-type': 'application/json', authorization: `Bearer ${apiKey}`},
      body: '{"model": "default", "messages": [',
    });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(typeof body.error?.message, 'string');
    assert.ok(body.error.message.length > 0);
    assert.equal(typeof body.error.type, 'string');
  });
});

describe('chat completions through the gateway to an Anthropic-format backend', () => {
  const reply = `Hello from ${anthropicFakeName}: ${prompt}`;
  const replyTokens = reply.split(/\s+/).length;

  test('non-stream completion is translated from the Anthropic answer', async () => {
    const {data: completion, response} =
        await client.chat.completions.create({model: anthropicAlias, messages}).withResponse();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-switchboard-backend'), anthropicBackend);
    assert.equal(completion.object, 'chat.completion');
    assert.match(completion.id, /^chatcmpl-/);
    assert.equal(completion.choices.length, 1);
    assert.equal(completion.choices[0].index, 0);
    assert.equal(completion.choices[0].message.role, 'assistant');
    assert.equal(completion.choices[0].message.content, reply);
    assert.equal(completion.choices[0].message.tool_calls, undefined);
    assert.equal(completion.choices[0].finish_reason, 'stop');
    assertConsistentUsage(completion.usage, replyTokens);
  });

  test('max_tokens below the reply length finishes with length', async () => {
    const completion =
        await client.chat.completions.create({model: anthropicAlias, messages, max_tokens: 2});
    assert.equal(completion.choices[0].message.content, `Hello from`);
    assert.equal(completion.choices[0].finish_reason, 'length');
    assertConsistentUsage(completion.usage, 2);
  });

  test('stream joins to the reply and hides usage unless asked for', async () => {
    const {data: stream, response} =
        await client.chat.completions.create({model: anthropicAlias, messages, stream: true})
            .withResponse();
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(response.headers.get('x-switchboard-backend'), anthropicBackend);
    const {chunks, content, finishReasons} = await collect(stream);
    assert.ok(chunks.length > 2, 'a chunk per piece');
    for (const chunk of chunks) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.equal(chunk.id, chunks[0].id, 'one id for the whole stream');
    }
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    assert.equal(content, reply);
    assert.deepEqual(finishReasons, ['stop']);
    assert.equal(chunks.filter((c) => c.usage).length, 0, 'no usage chunk');
  });

  test('stream with include_usage ends with the Anthropic usage', async () => {
    const stream = await client.chat.completions.create({
      model: anthropicAlias,
      messages,
      stream: true,
      stream_options: {include_usage: true},
    });
    const {chunks, content, finishReasons} = await collect(stream);
    assert.equal(content, reply);
    assert.deepEqual(finishReasons, ['stop']);
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, [], 'the usage chunk has no choices');
    assertConsistentUsage(last.usage, replyTokens);
    assert.equal(chunks.filter((c) => c.usage).length, 1, 'exactly one chunk carries usage');
  });

  test('the SDK stream helper assembles the same completion', async () => {
    const stream = client.chat.completions.stream(
        {model: anthropicAlias, messages, stream_options: {include_usage: true}});
    const deltas = [];
    stream.on('content', (delta) => deltas.push(delta));
    const completion = await stream.finalChatCompletion();
    assert.ok(deltas.length > 1);
    assert.equal(deltas.join(''), reply);
    assert.equal(completion.choices[0].message.content, reply);
    assert.equal(completion.choices[0].finish_reason, 'stop');
    assertConsistentUsage(completion.usage, replyTokens);
  });

  test('concurrent requests each get their own reply', async () => {
    const prompts = Array.from({length: 6}, (_, i) => `claude request ${i}`);
    const ask = async (content, stream) => {
      const request = {model: anthropicAlias, messages: [{role: 'user', content}], stream};
      const answer = await client.chat.completions.create(request);
      return stream ? (await collect(answer)).content : answer.choices[0].message.content;
    };
    const replies = await Promise.all(prompts.map((p, i) => ask(p, i % 2 === 1)));
    assert.deepEqual(replies, prompts.map((p) => `Hello from ${anthropicFakeName}: ${p}`));
  });
});

// The same tool conversation against both backends: the fake calls the first tool with
// {"query": <last user text>} and answers a tool result with "Tool said: <result>".
const toolTargets = [
  {format: 'OpenAI', alias: model, backend: backendName},
  {format: 'Anthropic', alias: anthropicAlias, backend: anthropicBackend},
];
const lookupTool = {
  type: 'function',
  function: {
    name: 'lookup',
    description: 'Looks a query up in the knowledge base.',
    parameters: {
      type: 'object',
      properties: {query: {type: 'string', description: 'What to look up'}},
      required: ['query'],
    },
  },
};
const toolPrompt = 'What is the weather in Paris?';
const toolOutput = 'sunny, 21 C';

/** The message's single tool call, checked against the fake's rule. */
function assertLookupCall(message) {
  assert.equal(message.role, 'assistant');
  assert.ok(!message.content, `no text beside the call: ${JSON.stringify(message.content)}`);
  assert.equal(message.tool_calls?.length, 1, JSON.stringify(message));
  const [call] = message.tool_calls;
  assert.equal(call.type, 'function');
  assert.equal(typeof call.id, 'string');
  assert.ok(call.id.length > 0, 'the call has an id');
  assert.equal(call.function.name, 'lookup');
  assert.deepEqual(JSON.parse(call.function.arguments), {query: toolPrompt});
  return call;
}

/** The question, the assistant's tool call and the tool's answer to it. */
function toolRoundTrip(call) {
  return [
    {role: 'user', content: toolPrompt},
    {role: 'assistant', content: null, tool_calls: [call]},
    {role: 'tool', tool_call_id: call.id, content: toolOutput},
  ];
}

for (const {format, alias, backend} of toolTargets) {
  describe(`tool calls through the gateway to an ${format}-format backend`, () => {
    const question = [{role: 'user', content: toolPrompt}];

    test('non-stream: a tool call with parsed arguments, then the tool result', async () => {
      const {data: first, response} =
          await client.chat.completions
              .create({model: alias, messages: question, tools: [lookupTool]})
              .withResponse();
      assert.equal(response.headers.get('x-switchboard-backend'), backend);
      assert.equal(first.choices[0].finish_reason, 'tool_calls');
      const call = assertLookupCall(first.choices[0].message);
      assert.ok(first.usage.prompt_tokens > 0);
      assert.ok(first.usage.completion_tokens > 0);

      const second = await client.chat.completions.create(
          {model: alias, messages: toolRoundTrip(call), tools: [lookupTool]});
      assert.equal(second.choices[0].message.content, `Tool said: ${toolOutput}`);
      assert.equal(second.choices[0].finish_reason, 'stop');
      assert.equal(second.choices[0].message.tool_calls, undefined);
    });

    test('stream: tool-call deltas assemble into the call', async () => {
      const stream = await client.chat.completions.create({
        model: alias,
        messages: question,
        tools: [lookupTool],
        stream: true,
        stream_options: {include_usage: true},
      });
      const calls = [];
      const finishReasons = [];
      let fragments = 0;
      let usage;
      for await (const chunk of stream) {
        usage = chunk.usage ?? usage;
        for (const choice of chunk.choices) {
          if (choice.finish_reason) {
            finishReasons.push(choice.finish_reason);
          }
          for (const delta of choice.delta?.tool_calls ?? []) {
            const call = (calls[delta.index] ??= {id: '', name: '', arguments: ''});
            call.id += delta.id ?? '';
            call.name += delta.function?.name ?? '';
            if (delta.function?.arguments) {
              call.arguments += delta.function.arguments;
              fragments += 1;
            }
          }
        }
      }
      assert.deepEqual(finishReasons, ['tool_calls']);
      assert.equal(calls.length, 1);
      assert.ok(calls[0].id.length > 0);
      assert.equal(calls[0].name, 'lookup');
      assert.ok(fragments > 1, `arguments arrive in pieces (${fragments})`);
      assert.deepEqual(JSON.parse(calls[0].arguments), {query: toolPrompt});
      assert.ok(usage?.prompt_tokens > 0 && usage?.completion_tokens > 0, JSON.stringify(usage));
    });

    test('stream helper: the final completion has the call; the result streams back', async () => {
      const first = await client.chat.completions
                        .stream({model: alias, messages: question, tools: [lookupTool]})
                        .finalChatCompletion();
      assert.equal(first.choices[0].finish_reason, 'tool_calls');
      const call = assertLookupCall(first.choices[0].message);

      const answer = client.chat.completions.stream(
          {model: alias, messages: toolRoundTrip(call), tools: [lookupTool]});
      assert.equal(await answer.finalContent(), `Tool said: ${toolOutput}`);
      const second = await answer.finalChatCompletion();
      assert.equal(second.choices[0].finish_reason, 'stop');
    });
  });
}
