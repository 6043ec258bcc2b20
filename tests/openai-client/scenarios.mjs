// Runs requests with the official OpenAI client against a running server and prints what came back, one JSON object.
// Input (stdin): {"baseURL", "apiKey", "scenarios": [{"name", "endpoint": "chat"|"completions", "params", "apiKey"?,
//   "followUp"?: {"of": earlier scenario name, "text": new user message}}]}. The caller (OpenAiClientTests) asserts.
import OpenAI from 'openai';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const results = {};

for (const s of input.scenarios) {
  const client = new OpenAI({ baseURL: input.baseURL, apiKey: s.apiKey ?? input.apiKey, maxRetries: 0, timeout: 180_000 });
  const params = structuredClone(s.params);
  if (s.followUp) {
    // The conversation exactly as the server returned it, plus a new user message.
    const earlier = results[s.followUp.of];
    params.messages = [...earlier.messages, { role: 'assistant', content: earlier.text }, { role: 'user', content: s.followUp.text }];
  }
  const api = s.endpoint === 'completions' ? client.completions : client.chat.completions;
  try {
    const { data, response } = await api.create(params).withResponse();
    const result = { session: response.headers.get('x-specedge-session'), messages: params.messages ?? null };
    if (params.stream) {
      let text = '', finish = null, usage = null, events = 0, role = null, toolDeltas = 0;
      const texts = [], toolCalls = [];
      for await (const chunk of data) {
        events++;
        if (chunk.usage) usage = chunk.usage;
        for (const choice of chunk.choices) {
          if (choice.delta?.role) role = choice.delta.role;
          // As the SDK's own helpers do: a call's first delta has its id and name, the rest extend its arguments.
          for (const call of choice.delta?.tool_calls ?? []) {
            toolDeltas++;
            const known = toolCalls[call.index];
            if (!known) toolCalls[call.index] = { id: call.id, type: call.type, function: { name: call.function?.name, arguments: call.function?.arguments ?? '' } };
            else known.function.arguments += call.function?.arguments ?? '';
          }
          const piece = choice.delta?.content ?? choice.text ?? '';
          text += piece;
          texts[choice.index] = (texts[choice.index] ?? '') + piece;
          if (choice.finish_reason) finish = choice.finish_reason;
        }
      }
      Object.assign(result, { text, texts, finish, usage, events, role, object: null, toolCalls: toolCalls.length ? toolCalls : null, toolDeltas });
    } else {
      const choice = data.choices[0];
      Object.assign(result, {
        text: choice.message?.content ?? choice.text, texts: data.choices.map(c => c.message?.content ?? c.text), finish: choice.finish_reason, usage: data.usage,
        role: choice.message?.role ?? null, object: data.object, id: data.id, toolCalls: choice.message?.tool_calls ?? null,
      });
    }
    results[s.name] = result;
  } catch (e) {
    results[s.name] = { error: { status: e.status ?? null, message: String(e.message), param: e.param ?? null, code: e.code ?? null, type: e.type ?? null } };
  }
}
console.log(JSON.stringify(results));
