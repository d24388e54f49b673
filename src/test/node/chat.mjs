// Streams a chat completion and a plain completion from a primed Engram state with the official openai client.
// Usage: node chat.mjs <baseURL> <model> <stateId>; prints one JSON line with what the client saw.
import OpenAI from 'openai';

const [baseURL, model, stateId] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: 'not-needed' });

const stream = await client.chat.completions.create({
  model,
  messages: [{ role: 'user', content: 'What is the code?' }],
  max_tokens: 12,
  temperature: 0,
  stream: true,
  stream_options: { include_usage: true },
  states: [{ id: stateId, weight: 1 }],
});
let text = '';
let role = null;
let finish = null;
let usage = null;
let chunks = 0;
let objects = new Set();
for await (const chunk of stream) {
  chunks++;
  objects.add(chunk.object);
  if (chunk.choices.length > 0) {
    const c = chunk.choices[0];
    if (c.delta.role) role = c.delta.role;
    text += c.delta.content ?? '';
    if (c.finish_reason) finish = c.finish_reason;
  }
  if (chunk.usage) usage = chunk.usage;
}

const completion = await client.completions.create({
  model, prompt: 'User: What is the code?\n\nAssistant:', max_tokens: 12, temperature: 0,
  states: [{ id: stateId }],
});
const chat = await client.chat.completions.create({
  model, messages: [{ role: 'user', content: 'What is the code?' }], max_tokens: 12, temperature: 0,
  states: [{ id: stateId }],
});

console.log(JSON.stringify({
  text, role, finish, usage, chunks, objects: [...objects],
  completion: completion.choices[0].text, completionFinish: completion.choices[0].finish_reason,
  chat: chat.choices[0].message.content, chatUsage: chat.usage,
}));
