// Checks a tokenizer.json written by SpecEdge.Tools train-demo against Hugging Face's own tokenizers library:
// the ids HF gives for held-out Brown sentences must equal the ids our C# encoder produced (ids file written by the
// caller), and HF's decode must give the sentence back.
// Usage (from the repository root):
//   dotnet run --project tools/SpecEdge.Tools -c Release -- token-cases --model models/demo/target --out /tmp/cases.json
//   node tools/corpus/verify-tokenizer.js models/demo/target /tmp/cases.json
// CASES_JSON: [{"text": "...", "ids": [..]}, ...]; exit code 0 only when every text matches.
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

async function main() {
  const [modelDir, casesFile] = process.argv.slice(2);
  if (!modelDir || !casesFile) {
    console.error('usage: node verify-tokenizer.js MODEL_DIR CASES_JSON');
    process.exit(2);
  }
  const tokenizer = Tokenizer.fromFile(path.join(modelDir, 'tokenizer.json'));
  const cases = JSON.parse(fs.readFileSync(casesFile, 'utf8'));
  let idMismatches = 0, roundTripFailures = 0, tokens = 0;
  for (const c of cases) {
    const enc = await tokenizer.encode(c.text, null, { addSpecialTokens: false });
    const ids = Array.from(enc.getIds());
    tokens += ids.length;
    if (ids.length !== c.ids.length || ids.some((id, i) => id !== c.ids[i])) {
      if (idMismatches++ < 5) console.log(`ids differ for ${JSON.stringify(c.text.slice(0, 80))}\n  hf:  ${ids.slice(0, 30)}\n  c#:  ${c.ids.slice(0, 30)}`);
    }
    const text = await tokenizer.decode(ids, false);
    if (text !== c.text) {
      if (roundTripFailures++ < 5) console.log(`decode differs: ${JSON.stringify(text.slice(0, 80))} vs ${JSON.stringify(c.text.slice(0, 80))}`);
    }
  }
  console.log(`${cases.length} texts, ${tokens} tokens: ${cases.length - idMismatches} with identical ids, ` +
    `${idMismatches} differing; ${roundTripFailures} decode mismatches; vocab size ${tokenizer.getVocabSize(true)}`);
  process.exit(idMismatches === 0 && roundTripFailures === 0 ? 0 : 1);
}
main().catch((e) => { console.error(e); process.exit(1); });
