import { TokenMatcher } from '../../../src/engine/grammar.js';
import { TextTokenizer } from '../../../src/tokenizer/tokenizer.js';
import { byteTokenizerJson } from './engineTokenizer.js';

// The engine's grammar path in a worker: xgrammar loaded on first use, a schema compiled against the
// byte-level test vocabulary (512 logits), then tokens taken one by one as the masks allow (the lowest
// allowed id each step) until the grammar ends with the stop token.
self.onmessage = async (e: MessageEvent<unknown>) => {
  try {
    const tok = new TextTokenizer(byteTokenizerJson(), { eos_token: '<|im_end|>' });
    const eos = tok.tokenToId('<|im_end|>')!;
    const m = await TokenMatcher.create(tok, 512, [eos], { kind: 'jsonSchema', schema: e.data });
    const ids: number[] = [];
    while (!m.terminated && ids.length < 200) {
      const mask = await m.mask();
      let id = 0;
      while (((mask[id >>> 5]! >>> (id & 31)) & 1) === 0) id++;
      m.accept(id);
      ids.push(id);
    }
    m.dispose();
    self.postMessage({ text: tok.decode(ids.filter((i) => i !== eos)), ended: ids.at(-1) === eos });
  } catch (err) {
    self.postMessage({ error: String((err as Error)?.message ?? err) });
  }
};
