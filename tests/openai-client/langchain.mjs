// LangChain.js against a running server: ChatOpenAI.withStructuredOutput with a zod schema (json_schema), and bindTools
// with a forced call. Input (stdin): {"baseURL", "apiKey", "model", "question", "tool", "toolQuestion"}. Prints one JSON object; the caller
// (OpenAiClientTests) asserts.
import { ChatOpenAI } from '@langchain/openai';
import { z } from 'zod';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const model = new ChatOpenAI({
  model: input.model, apiKey: input.apiKey, configuration: { baseURL: input.baseURL },
  temperature: 0, maxTokens: 160, maxRetries: 0,
});
const City = z.object({
  mood: z.enum(['calm', 'busy', 'old']).describe('how the city feels'),
  year: z.number().int().describe('the year it was founded'),
  open: z.boolean(),
});

const results = {};
async function run(name, build) {
  try {
    results[name] = { parsed: await build().invoke(input.question) };
  } catch (e) {
    results[name] = { error: String(e.message ?? e) };
  }
}
await run('jsonSchema', () => model.withStructuredOutput(City, { name: 'city', method: 'jsonSchema' }));
if (input.tool) {
  // bindTools with a forced call: LangChain reads the call back as the message's tool_calls.
  try {
    const message = await model.bindTools([input.tool], { tool_choice: input.tool.function.name }).invoke(input.toolQuestion);
    results.bindTools = { toolCalls: message.tool_calls };
  } catch (e) {
    results.bindTools = { error: String(e.message ?? e) };
  }
}
console.log(JSON.stringify(results));
