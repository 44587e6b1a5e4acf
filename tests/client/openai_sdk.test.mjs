// Drives a running Switchboard gateway with the official OpenAI Node SDK, the way application
// teams will: the SDK must parse every answer (plain, streamed, errors) without any special case.
//
// Environment:
//   SWITCHBOARD_URL    the gateway's OpenAI base URL, e.g. http://127.0.0.1:8080/v1 (required)
//   SWITCHBOARD_MODEL  the model alias the gateway routes (default "default")
//   FAKE_NAME          the fake upstream's --name, which prefixes its replies (default "fake")
//   FAKE_BACKEND       the gateway's backend name for the fake (default "local")
//
// tests/client/run.sh starts a fake upstream and the gateway and sets these.
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

const client = new OpenAI({baseURL, apiKey: 'sk-anything', maxRetries: 0, timeout: 30_000});

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

function assertConsistentUsage(usage) {
  assert.ok(usage, 'usage is present');
  assert.equal(typeof usage.prompt_tokens, 'number');
  assert.equal(typeof usage.completion_tokens, 'number');
  assert.equal(typeof usage.total_tokens, 'number');
  assert.ok(usage.prompt_tokens > 0, 'prompt_tokens > 0');
  assert.equal(usage.completion_tokens, expectedCompletionTokens);
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
      headers: {'content-type': 'application/json', authorization: 'Bearer sk-anything'},
      body: '{"model": "default", "messages": [',
    });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(typeof body.error?.message, 'string');
    assert.ok(body.error.message.length > 0);
    assert.equal(typeof body.error.type, 'string');
  });
});
