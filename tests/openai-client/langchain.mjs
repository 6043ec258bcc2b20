// LangChain.js against a running server: ChatOpenAI.withStructuredOutput with a zod schema (json_schema). Input (stdin): {"baseURL", "apiKey", "model", "question"}. Prints one JSON object; the caller
// (OpenAiClientTests) asserts.
import { ChatOpenAI } from '@langchain/openai';
import { z } from 'zod';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const model = new ChatOpenAI({
  model: input.model, apiKey: input.apiKey, configuration: { baseURL: input.baseURL },
  temperature: 0, maxTokens: 96, maxRetries: 0,
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
console.log(JSON.stringify(results));
