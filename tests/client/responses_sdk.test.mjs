// Drives the gateway's POST /v1/responses with the official OpenAI Node SDK (`responses.create`
// and `responses.stream`), against two backends: a self-hosted engine (an OpenAI-format fake
// behind a `vllm` backend, reached through chat completions) and a closed OpenAI-format backend
// (a fake behind a `provider: openai` backend). The SDK must parse every answer and every event
// as it parses OpenAI's own; what the gateway sent upstream is read from the fakes' records.
//
// The fakes answer "Hello from <name>: <last user text>"; a request with tools whose user spoke
// last gets a call of the first tool with arguments {"query": "<last user text>"}; a tool output
// as the last item gets "Tool said: <output>".
//
// Environment (set by tests/client/run.sh):
//   SWITCHBOARD_URL      the gateway's OpenAI base URL, e.g. http://127.0.0.1:8080/v1 (required)
//   SWITCHBOARD_API_KEY  a key of one of the gateway's tenants (default "sk-anything")
//   SWITCHBOARD_MODEL    the alias routed to the self-hosted engine (default "default")
//   FAKE_NAME, FAKE_BACKEND, FAKE_RECORD               that engine's --name (default "fake"), the
//                        gateway's backend name for it (default "local") and its --record file
//   OPENAI_ALIAS         the alias routed to the closed OpenAI backend (default "gpt-via-gateway")
//   OPENAI_FAKE_NAME, OPENAI_BACKEND, OPENAI_FAKE_RECORD  likewise (defaults "fake-openai",
//                        "openai")
//   SECOND_API_KEY       a key of another tenant (required by the tenant-isolation test)
import assert from 'node:assert/strict';
import {describe, test} from 'node:test';
import OpenAI from 'openai';

import {nonce, recordFile, recordsWith} from './cli_support.mjs';

const baseURL = process.env.SWITCHBOARD_URL;
if (!baseURL) {
  throw new Error(
      'SWITCHBOARD_URL is not set (e.g. http://127.0.0.1:8080/v1); see tests/client/run.sh');
}
const apiKey = process.env.SWITCHBOARD_API_KEY ?? 'sk-anything';
const client = new OpenAI({baseURL, apiKey, maxRetries: 0, timeout: 30_000});

const targets = [
  {
    what: 'a self-hosted engine',
    model: process.env.SWITCHBOARD_MODEL ?? 'default',
    fakeName: process.env.FAKE_NAME ?? 'fake',
    backend: process.env.FAKE_BACKEND ?? 'local',
    recordEnv: 'FAKE_RECORD',
    // The gateway forwards a client's own x- headers to a self-hosted engine only: this fake can
    // be asked to pace its events.
    paced: true,
  },
  {
    what: 'a closed OpenAI backend',
    model: process.env.OPENAI_ALIAS ?? 'gpt-via-gateway',
    fakeName: process.env.OPENAI_FAKE_NAME ?? 'fake-openai',
    backend: process.env.OPENAI_BACKEND ?? 'openai',
    recordEnv: 'OPENAI_FAKE_RECORD',
  },
];

const wordCount = (text) => text.split(/\s+/).filter(Boolean).length;

const lookupTool = {
  type: 'function',
  name: 'lookup',
  description: 'Looks a query up in the knowledge base.',
  strict: true,
  parameters: {
    type: 'object',
    properties: {query: {type: 'string', description: 'What to look up'}},
    required: ['query'],
    additionalProperties: false,
  },
};
const toolOutput = 'sunny, 21 C';

/** The assistant message's text parts of a Response, joined. */
function messageText(response) {
  return response.output.filter((item) => item.type === 'message')
      .flatMap((item) => item.content)
      .filter((part) => part.type === 'output_text')
      .map((part) => part.text)
      .join('');
}

function assertUsage(usage, outputText) {
  assert.ok(usage, 'usage is present');
  assert.ok(usage.input_tokens > 0, `input_tokens > 0: ${JSON.stringify(usage)}`);
  assert.equal(usage.output_tokens, wordCount(outputText));
  assert.equal(usage.total_tokens, usage.input_tokens + usage.output_tokens);
  assert.equal(typeof usage.input_tokens_details?.cached_tokens, 'number');
  assert.equal(typeof usage.output_tokens_details?.reasoning_tokens, 'number');
}

/** Asserts the single function_call item of `response` is lookup({"query": prompt}). */
function assertLookupCall(response, prompt) {
  const calls = response.output.filter((item) => item.type === 'function_call');
  assert.equal(calls.length, 1, JSON.stringify(response.output));
  const [call] = calls;
  assert.equal(call.name, 'lookup');
  assert.ok(call.call_id, 'the call has a call_id');
  assert.deepEqual(JSON.parse(call.arguments), {query: prompt});
  return call;
}

/** Collects a Responses event stream: every event, the text deltas joined. */
async function collectEvents(stream) {
  const events = [];
  let text = '';
  for await (const event of stream) {
    events.push(event);
    if (event.type === 'response.output_text.delta')
      text += event.delta;
  }
  return {events, text};
}

/** OpenAI's order of events for one output item, and the numbering of the whole stream. */
function assertEventOrder(events, itemEvents) {
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'response.created', types.join(' '));
  assert.equal(types[1], 'response.in_progress', types.join(' '));
  assert.equal(types.at(-1), 'response.completed', types.join(' '));
  const middle = types.slice(2, -1).filter((t, i, all) => t !== all[i - 1]);  // runs collapsed
  assert.deepEqual(middle, itemEvents, types.join(' '));
  events.forEach((e, i) => assert.equal(e.sequence_number, i, `sequence_number of event ${i}`));
  const ids = new Set(events.filter((e) => e.response).map((e) => e.response.id));
  assert.equal(ids.size, 1, 'every lifecycle event names the same response');
}

for (const target of targets) {
  const {what, model, fakeName, backend, paced} = target;

  describe(`responses.create through the gateway to ${what}`, () => {
    test('a string input answers a completed Response with output_text and usage', async () => {
      const prompt = `Say hello to the switchboard ${nonce('r')}`;
      const expected = `Hello from ${fakeName}: ${prompt}`;
      const {data: response, response: raw} =
          await client.responses.create({model, input: prompt}).withResponse();
      assert.equal(raw.headers.get('x-switchboard-backend'), backend);
      assert.equal(response.object, 'response');
      assert.match(response.id, /^resp_/);
      assert.equal(response.status, 'completed');
      assert.equal(response.output.length, 1, JSON.stringify(response.output));
      const [message] = response.output;
      assert.equal(message.type, 'message');
      assert.equal(message.role, 'assistant');
      assert.equal(message.status, 'completed');
      assert.match(message.id, /^msg_/);
      assert.equal(messageText(response), expected);
      assert.equal(response.output_text, expected);
      assertUsage(response.usage, expected);
    });

    test(
        'instructions and message items (developer, system, user parts) reach the backend',
        async () => {
          const marker = nonce('instr');
          const prompt = `Greet ${marker}`;
          const response = await client.responses.create({
            model,
            instructions: `Be brief ${marker}.`,
            input: [
              {type: 'message', role: 'developer', content: 'Answer in English.'},
              {role: 'system', content: 'You are a test.'},
              {role: 'user', content: [{type: 'input_text', text: prompt}]},
            ],
            max_output_tokens: 64,
            metadata: {suite: 'client'},
          });
          assert.equal(response.output_text, `Hello from ${fakeName}: ${prompt}`);
          assert.equal(response.instructions, `Be brief ${marker}.`);
          assert.equal(response.max_output_tokens, 64);
          assert.deepEqual(response.metadata, {suite: 'client'});
          const [sent] = recordsWith(recordFile(target.recordEnv), marker);
          assert.ok(sent, 'the backend received the request');
          for (const text of [`Be brief ${marker}.`, 'Answer in English.', 'You are a test.']) {
            assert.ok(
                sent.body.includes(JSON.stringify(text).slice(1, -1)),
                `"${text}" reached the backend: ${sent.body.slice(0, 600)}`);
          }
        });

    test('a function call, then its function_call_output sent back in full input', async () => {
      const prompt = `What is the weather in Paris? ${nonce('fn')}`;
      const first = await client.responses.create({model, input: prompt, tools: [lookupTool]});
      assert.equal(first.status, 'completed');
      const call = assertLookupCall(first, prompt);
      assert.match(call.id, /^fc_/);
      const second = await client.responses.create({
        model,
        tools: [lookupTool],
        input: [
          {role: 'user', content: prompt},
          ...first.output,
          {type: 'function_call_output', call_id: call.call_id, output: toolOutput},
        ],
      });
      assert.equal(second.output_text, `Tool said: ${toolOutput}`);
    });

    test('a function call, then its output sent with previous_response_id', async () => {
      const marker = nonce('prev');
      const prompt = `What is the weather in Lyon? ${marker}`;
      const first =
          await client.responses.create({model, input: prompt, tools: [lookupTool], store: true});
      const call = assertLookupCall(first, prompt);
      const second = await client.responses.create({
        model,
        tools: [lookupTool],
        previous_response_id: first.id,
        input: [{type: 'function_call_output', call_id: call.call_id, output: toolOutput}],
      });
      assert.equal(second.previous_response_id, first.id);
      assert.equal(second.output_text, `Tool said: ${toolOutput}`);
      // The backend got the whole conversation: the question, the call and its output.
      const sent = recordsWith(recordFile(target.recordEnv), marker);
      assert.equal(sent.length, 2, 'two upstream requests carry this conversation');
      assert.ok(sent[1].body.includes(call.call_id), 'the call reached the backend again');
      assert.ok(sent[1].body.includes(toolOutput), 'its output reached the backend');
    });

    test(
        'store: true and a text follow-up with previous_response_id carry the history',
        async () => {
          const marker = nonce('hist');
          const first = await client.responses.create(
              {model, input: `Remember the word ${marker}`, store: true});
          assert.equal(first.store, true);
          const followUp = 'Which word did I ask you to remember?';
          const second = await client.responses.create(
              {model, input: followUp, previous_response_id: first.id});
          assert.equal(second.output_text, `Hello from ${fakeName}: ${followUp}`);
          const sent = recordsWith(recordFile(target.recordEnv), marker);
          assert.equal(sent.length, 2, 'the follow-up carried the first turn upstream');
          assert.ok(sent[1].body.includes(followUp));
          assert.ok(
              sent[1].body.includes(JSON.stringify(first.output_text).slice(1, -1)),
              'the first answer was replayed as the assistant turn');
          assert.ok(
              !sent[1].body.includes(first.id), 'the gateway resolved previous_response_id itself');
        });

    test('text.format json_schema is forwarded and echoed', async () => {
      const marker = nonce('schema');
      const format = {
        type: 'json_schema',
        name: 'greeting',
        strict: true,
        schema: {
          type: 'object',
          properties: {greeting: {type: 'string'}},
          required: ['greeting'],
          additionalProperties: false,
        },
      };
      const response =
          await client.responses.create({model, input: `Greet ${marker} as JSON`, text: {format}});
      assert.equal(response.status, 'completed');
      assert.equal(response.text?.format?.type, 'json_schema');
      assert.equal(response.text.format.name, 'greeting');
      const [sent] = recordsWith(recordFile(target.recordEnv), marker);
      assert.ok(sent?.json, 'the backend received the request');
      const schema = sent.target.endsWith('/chat/completions') ?
          sent.json.response_format?.json_schema :  // translated to chat completions
          sent.json.text?.format;                   // passed through
      assert.ok(schema, `the schema reached the backend: ${sent.body.slice(0, 600)}`);
      assert.equal(schema.name, 'greeting');
      assert.equal(schema.strict, true);
      assert.deepEqual(schema.schema, format.schema);
    });

    test('the backend receives the tenant\'s request under its own model and key', async () => {
      const marker = nonce('model');
      await client.responses.create({model, input: `Hi ${marker}`});
      const [sent] = recordsWith(recordFile(target.recordEnv), marker);
      assert.ok(sent?.json, 'the backend received the request');
      assert.notEqual(sent.json.model, model, 'the alias was replaced by the backend\'s model');
      assert.ok(
          !JSON.stringify(sent.headers).includes(apiKey), 'the client key stays at the gateway');
    });
  });

  describe(`responses.stream through the gateway to ${what}`, () => {
    test('text streams in OpenAI\'s event order and finalResponse matches', async () => {
      const prompt = `Stream hello ${nonce('s')}`;
      const expected = `Hello from ${fakeName}: ${prompt}`;
      const stream = client.responses.stream({model, input: prompt});
      const {events, text} = await collectEvents(stream);
      assert.equal(text, expected);
      assertEventOrder(events, [
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
      ]);
      const done = events.find((e) => e.type === 'response.output_text.done');
      assert.equal(done.text, expected);
      const completed = events.at(-1).response;
      assert.equal(completed.status, 'completed');
      assertUsage(completed.usage, expected);
      const final = await stream.finalResponse();
      assert.equal(final.output_text, expected);
      assert.equal(final.id, events[0].response.id);
    });

    if (paced) {
      // The upstream waits 150 ms before each event; the gateway (server.stream_keepalive: 50ms in
      // run.sh) writes `: keepalive` comments meanwhile, which the SDK must skip.
      test('keep-alive comments between the events are skipped', async () => {
        const prompt = `Slow hello ${nonce('k')}`;
        const expected = `Hello from ${fakeName}: ${prompt}`;
        const headers = {'x-fake-latency-ms': '150'};
        const raw = await fetch(`${baseURL}/responses`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'authorization': `Bearer ${apiKey}`,
            ...headers,
          },
          body: JSON.stringify({model, input: prompt, stream: true, store: false}),
        });
        assert.equal(raw.status, 200);
        assert.match(await raw.text(), /\n: keepalive\n\nevent: /, 'comments between the events');
        const stream = client.responses.stream({model, input: prompt}, {headers});
        const {text} = await collectEvents(stream);
        assert.equal(text, expected);
        const final = await stream.finalResponse();
        assert.equal(final.output_text, expected);
      });
    }

    test('a function call streams its arguments, and its output streams the answer', async () => {
      const prompt = `Weather in Nice? ${nonce('sf')}`;
      const stream = client.responses.stream({model, input: prompt, tools: [lookupTool]});
      const {events} = await collectEvents(stream);
      assertEventOrder(events, [
        'response.output_item.added',
        'response.function_call_arguments.delta',
        'response.function_call_arguments.done',
        'response.output_item.done',
      ]);
      const args = events.filter((e) => e.type === 'response.function_call_arguments.delta')
                       .map((e) => e.delta)
                       .join('');
      assert.deepEqual(JSON.parse(args), {query: prompt});
      const final = await stream.finalResponse();
      const call = assertLookupCall(final, prompt);
      const answer = client.responses.stream({
        model,
        tools: [lookupTool],
        input: [
          {role: 'user', content: prompt},
          ...final.output,
          {type: 'function_call_output', call_id: call.call_id, output: toolOutput},
        ],
      });
      const {text} = await collectEvents(answer);
      assert.equal(text, `Tool said: ${toolOutput}`);
    });

    test('responses.create with stream: true yields the same events', async () => {
      const prompt = `Raw stream ${nonce('raw')}`;
      const stream = await client.responses.create({model, input: prompt, stream: true});
      const {events, text} = await collectEvents(stream);
      assert.equal(text, `Hello from ${fakeName}: ${prompt}`);
      assert.equal(events.at(-1).type, 'response.completed');
    });
  });
}

describe('Responses errors in OpenAI\'s shape', () => {
  const model = targets[0].model;

  test('unknown model alias is a NotFoundError (404)', async () => {
    await assert.rejects(
        client.responses.create({model: 'no-such-model-alias', input: 'hi'}), (err) => {
          assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err}`);
          assert.equal(err.status, 404);
          assert.ok(err.error?.message, 'error body has a message');
          return true;
        });
  });

  test('input of the wrong type is a BadRequestError (400) naming the parameter', async () => {
    await assert.rejects(client.post('/responses', {body: {model, input: 42}}), (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 400);
      assert.equal(err.error?.type, 'invalid_request_error');
      assert.equal(err.error?.param, 'input');
      assert.ok(err.error?.message, 'error body has a message');
      return true;
    });
  });

  test('an unknown item type is a BadRequestError (400)', async () => {
    await assert.rejects(
        client.responses.create({model, input: [{type: 'no_such_item', text: 'x'}]}), (err) => {
          assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err}`);
          assert.equal(err.error?.type, 'invalid_request_error');
          return true;
        });
  });

  test('malformed JSON body is a 400 in the OpenAI error shape', async () => {
    const res = await fetch(`${baseURL.replace(/\/$/, '')}/responses`, {
      method: 'POST',
      headers: {'content-type': 'application/json', authorization: `Bearer ${apiKey}`},
      body: '{"model": "default", "input": [',
    });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(typeof body.error?.message, 'string');
    assert.equal(body.error.type, 'invalid_request_error');
    assert.ok('param' in body.error && 'code' in body.error, JSON.stringify(body));
  });

  test(
      'an unknown previous_response_id is OpenAI\'s previous_response_not_found (400)',
      async () => {
        const id = 'resp_0123456789abcdef0123456789abcdef';
        await assert.rejects(
            client.responses.create({model, input: 'hi', previous_response_id: id}), (err) => {
              assert.ok(
                  err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err}`);
              assert.equal(err.status, 400);
              assert.equal(err.error?.type, 'invalid_request_error');
              assert.equal(err.error?.code, 'previous_response_not_found');
              assert.equal(err.error?.param, 'previous_response_id');
              assert.equal(err.error?.message, `Previous response with id '${id}' not found.`);
              return true;
            });
      });

  test('a response created with store: false cannot be continued', async () => {
    const first = await client.responses.create({model, input: 'hi', store: false});
    assert.equal(first.store, false);
    await assert.rejects(
        client.responses.create({model, input: 'again', previous_response_id: first.id}), (err) => {
          assert.equal(err.status, 400, `got ${err?.constructor?.name}: ${err}`);
          assert.equal(err.error?.code, 'previous_response_not_found');
          return true;
        });
  });

  test('a response id of another tenant\'s key is not found', async () => {
    assert.ok(process.env.SECOND_API_KEY, 'SECOND_API_KEY (a second tenant\'s key) is set');
    const first = await client.responses.create({model, input: 'hi', store: true});
    const other = new OpenAI({baseURL, apiKey: process.env.SECOND_API_KEY, maxRetries: 0});
    await assert.rejects(
        other.responses.create({model, input: 'again', previous_response_id: first.id}), (err) => {
          assert.equal(err.status, 400, `got ${err?.constructor?.name}: ${err}`);
          assert.equal(err.error?.code, 'previous_response_not_found');
          return true;
        });
  });

  test(
      'a conversation that carried restricted data never continues on a lower backend',
      async () => {
        const marker = nonce('sticky');
        const {data: first, response: raw} =
            await client.responses
                .create({model, input: `Card 4111 1111 1111 1111 for ${marker}`, store: true})
                .withResponse();
        assert.equal(raw.headers.get('x-switchboard-sensitivity'), 'restricted');
        await assert.rejects(
            client.responses.create(
                {model: targets[1].model, input: 'Summarize that', previous_response_id: first.id}),
            (err) => {
              assert.ok(
                  err instanceof OpenAI.PermissionDeniedError,
                  `got ${err?.constructor?.name}: ${err}`);
              assert.equal(err.status, 403);
              return true;
            });
        assert.deepEqual(
            recordsWith(recordFile(targets[1].recordEnv), marker), [],
            'nothing of the conversation reached the internal backend');
      });

  test('upstream 429 is a RateLimitError (429), on create and on stream', async () => {
    const headers = {'x-fake-status': '429'};
    for (const stream of [false, true]) {
      await assert.rejects(
          (async () => {
            const r = await client.responses.create({model, input: 'hi', stream}, {headers});
            if (stream)
              await collectEvents(r);
          })(),
          (err) => {
            assert.ok(
                err instanceof OpenAI.RateLimitError,
                `stream ${stream}: got ${err?.constructor?.name}: ${err}`);
            assert.equal(err.status, 429);
            return true;
          });
    }
  });
});
