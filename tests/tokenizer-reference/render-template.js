// Renders a chat template as transformers' apply_chat_template does (through @huggingface/jinja, the renderer
// transformers.js uses), for the C# chat format tests. Input (stdin): {"template", "cases": [{"messages", "tools",
// "add_generation_prompt", "enable_thinking", "bos_token", "eos_token"}]} (BOS empty and EOS <|im_end|>, Qwen's, when not given). Output: a JSON array of rendered strings (or {"error"} per case).
const { Template } = require('@huggingface/jinja');

let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const { template, cases } = JSON.parse(input);
  const compiled = new Template(template);
  const out = cases.map((c) => {
    try {
      return compiled.render({
        messages: c.messages, tools: c.tools ?? undefined, add_generation_prompt: c.add_generation_prompt ?? true,
        enable_thinking: c.enable_thinking, bos_token: c.bos_token ?? '', eos_token: c.eos_token ?? '<|im_end|>',
      });
    } catch (e) {
      return { error: String(e.message ?? e) };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
