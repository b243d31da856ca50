#!/usr/bin/env python3
"""Trains models/tiny-books: a byte-level BPE tokenizer and a small Llama on the corpus that
tools/bundled/build_corpus.py builds (public-domain prose + WordNet definitions as chat turns).

    python3 tools/bundled/train_tiny_books.py --corpus .cache/bundled/corpus.tar.xz --out $OUT [--budget-s 240]

On the device tool's NVIDIA machine (PyTorch 2.11, transformers 5.17, tokenizers 0.23, safetensors); no
network. Steps: train the tokenizer (HF `tokenizers`, vocabulary 4096, special tokens <|endoftext|>,
<|im_start|>, <|im_end|>); tokenize prose and chat-formatted conversations; build LlamaForCausalLM; train
with AdamW, bf16 autocast, linear warmup then a cosine decay over a fixed wall-clock budget, on random
512-token windows (half of the rows from prose, half from conversations); report validation losses (held-out
prose documents, held-out definitions); save with save_pretrained in float16 with the tokenizer files and a
ChatML chat template in tokenizer_config.json; evaluate greedy answers (the float16 weights computed in
float32, as weblm computes): definitions of trained and held-out words, of held-out inflections of trained
words ("lanterns"), and of trained words asked in a phrasing never trained ("Explain the word lantern."); write
samples; write reference/ for weblm's parity test (transformers' float32 logits of held-out prose and greedy
ids of 2 prompts).

Out ($OUT, each file <= 16 MiB): model.safetensors, model_files.tar (config.json, generation_config.json,
tokenizer.json, tokenizer_config.json, reference/expected.{safetensors,json}), samples.txt, train_log.json (figures, loss curve), eval.json (every
evaluated question: the answer, the gloss, the overlap).

--local-test runs the same loop on the CPU with a small stand-in Llama written in plain PyTorch and a
whitespace stand-in tokenizer (no transformers or tokenizers needed), for checking the script where only
PyTorch is installed.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import re
import shutil
import tarfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]  # ids 0, 1, 2
END, IM_START, IM_END = 0, 1, 2
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
MODEL = dict(
    vocab_size=4096, hidden_size=256, intermediate_size=768, num_hidden_layers=7, num_attention_heads=8,
    num_key_value_heads=4, head_dim=32, max_position_embeddings=512, rms_norm_eps=1e-5,
    rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, tie_word_embeddings=True,
    attention_bias=False, mlp_bias=False, hidden_act="silu", bos_token_id=END, eos_token_id=IM_END, pad_token_id=END,
)
STOP = set(
    """a an the and or of to in on at by for with from as is are be been being that this it its which who whom
    any some one or not no used means mean meaning especially something someone somebody etc into out up""".split()
)


def render_chat(messages: list[dict], add_generation_prompt: bool = False) -> str:
    """CHAT_TEMPLATE in Python (checked against transformers' apply_chat_template on the device)."""
    s = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return s + ("<|im_start|>assistant\n" if add_generation_prompt else "")


def content_words(s: str, drop: str = "") -> set[str]:
    return {w for w in re.findall(r"[a-z]+", s.lower()) if w not in STOP and w != drop and len(w) > 2}


def overlap_ok(answer: str, gloss: str, word: str) -> tuple[bool, int, int]:
    """The tests' criterion: the answer shares >= 2 content words with the gloss (all of them when it has fewer)."""
    g = content_words(gloss, word)
    shared = len(g & content_words(answer, word))
    return shared >= min(2, len(g)) and len(g) > 0, shared, len(g)


def inflection_ok(answer: str, base: str, gloss: str) -> bool:
    """Held-out inflections: the answer names the base word and shares >= 2 content words with its gloss."""
    return re.search(rf"\b{re.escape(base)}\b", answer.lower()) is not None and overlap_ok(answer, gloss, base)[0]


def load_corpus(path: str) -> dict[str, str]:
    out = {}
    with tarfile.open(path, "r:*") as tar:
        for m in tar.getmembers():
            if m.isfile():
                out[Path(m.name).name] = tar.extractfile(m).read().decode("utf-8")
    return out


def prose_docs(text: str) -> list[str]:
    return [d.strip("\n") for d in text.split("\n<|endoftext|>\n") if d.strip()]


def chats(text: str) -> list[list[dict]]:
    return [json.loads(l)["messages"] for l in text.splitlines() if l.strip()]


# ---------------------------------------------------------------------------------------------------------
# Tokenizer (thin: HF tokenizers) and its stand-in
# ---------------------------------------------------------------------------------------------------------


def train_tokenizer(texts, vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator(texts, trainer=trainer)
    assert [tok.token_to_id(t) for t in SPECIAL] == [END, IM_START, IM_END]
    return tok


class StandInTokenizer:
    """--local-test only: words and punctuation as ids, the special tokens as 0-2."""

    def __init__(self, texts, vocab_size: int):
        from collections import Counter

        c = Counter(t for s in texts for t in re.findall(r"<\|[a-z_]+\|>|\w+|[^\w\s]|\n", s))
        self.itos = SPECIAL + ["<unk>"] + [w for w, _ in c.most_common(vocab_size - 4) if w not in SPECIAL]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def encode_batch(self, texts):
        class E:
            def __init__(self, ids):
                self.ids = ids

        return [E([self.stoi.get(t, 3) for t in re.findall(r"<\|[a-z_]+\|>|\w+|[^\w\s]|\n", s)]) for s in texts]

    def decode(self, ids, skip_special_tokens=True):
        return " ".join(self.itos[i] for i in ids if not (skip_special_tokens and i < 3))


def encode_stream(tok, texts: list[str]) -> torch.Tensor:
    ids: list[int] = []
    for e in tok.encode_batch(texts):
        ids.extend(e.ids)
        ids.append(END)
    return torch.tensor(ids, dtype=torch.int32)


# ---------------------------------------------------------------------------------------------------------
# Model (thin: transformers) and its stand-in
# ---------------------------------------------------------------------------------------------------------


def make_model(cfg: dict):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(**cfg))


class StandInLlama(torch.nn.Module):
    """--local-test only: the Llama computation (RMSNorm, RoPE, GQA, SwiGLU, tied head) in plain PyTorch."""

    def __init__(self, c: dict):
        super().__init__()
        self.c = c
        H, I, nh, nkv, hd = c["hidden_size"], c["intermediate_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        self.embed = torch.nn.Embedding(c["vocab_size"], H)
        torch.nn.init.normal_(self.embed.weight, std=0.02)
        L = torch.nn.ModuleList()
        for _ in range(c["num_hidden_layers"]):
            m = torch.nn.Module()
            m.n1, m.n2 = torch.nn.RMSNorm(H) if hasattr(torch.nn, "RMSNorm") else torch.nn.LayerNorm(H), torch.nn.LayerNorm(H)
            m.q, m.k, m.v, m.o = (torch.nn.Linear(H, nh * hd, bias=False), torch.nn.Linear(H, nkv * hd, bias=False),
                                  torch.nn.Linear(H, nkv * hd, bias=False), torch.nn.Linear(nh * hd, H, bias=False))
            m.g, m.u, m.d = torch.nn.Linear(H, I, bias=False), torch.nn.Linear(H, I, bias=False), torch.nn.Linear(I, H, bias=False)
            L.append(m)
        self.layers, self.norm = L, torch.nn.LayerNorm(H)
        inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
        self.register_buffer("inv", inv, persistent=False)

    def rope(self, x, T):
        f = torch.outer(torch.arange(T, device=x.device).float(), self.inv)
        cos, sin = torch.cat([f.cos(), f.cos()], -1), torch.cat([f.sin(), f.sin()], -1)
        x1, x2 = x.chunk(2, -1)
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def forward(self, input_ids, **_):
        c = self.c
        B, T = input_ids.shape
        nh, nkv, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        x = self.embed(input_ids)
        for m in self.layers:
            h = m.n1(x)
            q = self.rope(m.q(h).view(B, T, nh, hd).transpose(1, 2), T)
            k = self.rope(m.k(h).view(B, T, nkv, hd).transpose(1, 2), T).repeat_interleave(nh // nkv, 1)
            v = m.v(h).view(B, T, nkv, hd).transpose(1, 2).repeat_interleave(nh // nkv, 1)
            att = (q @ k.transpose(-1, -2)) / hd**0.5
            att = att.masked_fill(torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1), float("-inf"))
            a = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, nh * hd)
            x = x + m.o(a)
            h = m.n2(x)
            x = x + m.d(F.silu(m.g(h)) * m.u(h))

        class Out:
            pass

        o = Out()
        o.logits = self.norm(x) @ self.embed.weight.T
        return o


# ---------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------


def windows(stream: torch.Tensor, n: int, T: int, gen: torch.Generator) -> torch.Tensor:
    starts = torch.randint(0, stream.numel() - T - 1, (n,), generator=gen, device="cpu").to(stream.device)
    return stream[starts[:, None] + torch.arange(T + 1, device=stream.device)].long()


def chunks(stream: torch.Tensor, T: int, limit: int) -> torch.Tensor:
    n = min((stream.numel() - 1) // T, limit)
    x = stream[: n * T + 1]
    return torch.stack([x[i * T : i * T + T + 1] for i in range(n)]).long()


def lm_loss(model, batch: torch.Tensor, dev: str, amp: bool) -> torch.Tensor:
    with torch.autocast(device_type="cuda" if dev == "cuda" else "cpu", dtype=torch.bfloat16, enabled=amp):
        logits = model(input_ids=batch[:, :-1], use_cache=False).logits
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))


@torch.no_grad()
def evaluate(model, sets: dict[str, torch.Tensor], dev: str, amp: bool, bs: int) -> dict[str, float]:
    model.eval()
    out = {}
    for name, data in sets.items():
        tot, n = 0.0, 0
        for i in range(0, data.shape[0], bs):
            b = data[i : i + bs].to(dev)
            tot += lm_loss(model, b, dev, amp).item() * b.shape[0]
            n += b.shape[0]
        out[name] = tot / max(n, 1)
    model.train()
    return out


def train(model, prose: torch.Tensor, chat: torch.Tensor, val_sets: dict, args, dev: str, log: dict) -> None:
    amp = dev == "cuda"
    T, B = args.seq, args.batch
    n_chat = int(round(B * args.chat_frac))
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.95), eps=1e-8, **({"fused": True} if dev == "cuda" else {}),
    )
    gen = torch.Generator().manual_seed(1)
    t0 = time.time()
    step, next_eval, tokens = 0, 0.0, 0
    curve = []
    model.train()
    while True:
        el = time.time() - t0
        frac = el / args.budget_s if args.budget_s > 0 else step / max(args.steps, 1)
        if frac >= 1.0 or (args.steps and step >= args.steps):
            break
        if frac >= next_eval:
            v = evaluate(model, val_sets, dev, amp, 64)
            curve.append({"step": step, "s": round(el, 1), "tokens": tokens, **{k: round(x, 4) for k, x in v.items()}})
            print(json.dumps(curve[-1]), flush=True)
            next_eval += 0.1
        warm = min(1.0, (step + 1) / args.warmup)
        lr = args.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
        for g in opt.param_groups:
            g["lr"] = lr
        batch = torch.cat([windows(prose, B - n_chat, T, gen), windows(chat, n_chat, T, gen)])
        loss = lm_loss(model, batch, dev, amp)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens += B * T
        if step % 100 == 0:
            print(f"step {step} {time.time() - t0:.0f}s lr {lr:.2e} loss {loss.item():.3f}", flush=True)
    el = time.time() - t0
    v = evaluate(model, val_sets, dev, amp, 64)
    curve.append({"step": step, "s": round(el, 1), "tokens": tokens, **{k: round(x, 4) for k, x in v.items()}})
    print(json.dumps(curve[-1]), flush=True)
    log.update({"steps": step, "train_seconds": round(el, 1), "tokens_seen": tokens, "final_train_loss": round(loss.item(), 4),
                "tokens_per_second": round(tokens / el), "curve": curve, "final_val": curve[-1]})


@torch.no_grad()
def greedy(model, ids: list[int], max_new: int, dev: str, stop: set[int], use_hf: bool) -> list[int]:
    x = torch.tensor([ids], device=dev)
    if use_hf:
        out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=max_new, do_sample=False,
                             eos_token_id=sorted(stop), pad_token_id=END)
        gen = out[0, len(ids):].tolist()
        cut = [i for i, t in enumerate(gen) if t in stop]
        return gen[: cut[0]] if cut else gen
    gen = []
    for _ in range(max_new):
        t = int(model(input_ids=x).logits[0, -1].argmax())
        if t in stop:
            break
        gen.append(t)
        x = torch.cat([x, torch.tensor([[t]], device=dev)], 1)
    return gen


@torch.no_grad()
def greedy_batch(model, prompts: list[list[int]], max_new: int, dev: str, stop: set[int], bs: int = 128) -> list[list[int]]:
    """Greedy continuations of many prompts at once, without a cache: the prompts right-padded in one buffer (a
    causal model never looks at the padding after a token), each step the whole buffer, each row's next token
    read at its own last position."""
    out: list[list[int]] = []
    for i in range(0, len(prompts), bs):
        group = prompts[i : i + bs]
        n = torch.tensor([len(p) for p in group], device=dev)
        buf = torch.full((len(group), int(n.max()) + max_new), END, dtype=torch.long, device=dev)
        for r, p in enumerate(group):
            buf[r, : len(p)] = torch.tensor(p, device=dev)
        done = torch.zeros(len(group), dtype=torch.bool, device=dev)
        gen = [[] for _ in group]
        rows = torch.arange(len(group), device=dev)
        for _ in range(max_new):
            width = int(n.max())
            t = model(input_ids=buf[:, :width], use_cache=False).logits[rows, n - 1].argmax(-1)
            for r in (~done).nonzero().flatten().tolist():
                if int(t[r]) in stop:
                    done[r] = True
                else:
                    gen[r].append(int(t[r]))
            buf[rows, n] = torch.where(done, END, t)
            n = torch.where(done, n, n + 1)
            if bool(done.all()):
                break
        out += gen
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=".cache/bundled/corpus.tar.xz")
    ap.add_argument("--out", default=os.environ.get("OUT", "/tmp/tiny-books-out"))
    ap.add_argument("--budget-s", type=float, default=240.0, help="training wall-clock seconds")
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: the budget alone)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--chat-frac", type=float, default=0.5)
    ap.add_argument("--eval-words", type=int, default=200, help="held-in and held-out definition questions answered")
    ap.add_argument("--local-test", action="store_true", help="CPU, stand-in model and tokenizer, tiny config")
    args = ap.parse_args()
    t_start = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dev = "cuda" if torch.cuda.is_available() and not args.local_test else "cpu"
    if dev == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    log: dict = {"device": torch.cuda.get_device_name() if dev == "cuda" else "cpu", "torch": torch.__version__, "args": vars(args)}

    corpus = load_corpus(args.corpus)
    p_train, p_val = prose_docs(corpus["prose_train.txt"]), prose_docs(corpus["prose_val.txt"])
    c_train, c_val = chats(corpus["chat_train.jsonl"]), chats(corpus["chat_val.jsonl"])
    qa = json.loads(corpus["qa_words.json"])
    forms = json.loads(corpus["inflections.json"])
    unseen_questions = json.loads(corpus["held_out_questions.json"])
    c_val_forms = chats(corpus["chat_val_inflections.jsonl"])
    if args.local_test:
        p_train, c_train = p_train[:40], c_train[:3000]
    c_train_text = [render_chat(m) for m in c_train]
    c_val_text = [render_chat(m) for m in c_val]

    cfg = dict(MODEL)
    t = time.time()
    if args.local_test:
        cfg.update(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16, vocab_size=2048)
        tok = StandInTokenizer(p_train + c_train_text, cfg["vocab_size"])
    else:
        tok = train_tokenizer(p_train + c_train_text, cfg["vocab_size"])
    log["tokenizer_seconds"] = round(time.time() - t, 1)
    t = time.time()
    prose, chat = encode_stream(tok, p_train), encode_stream(tok, c_train_text)
    val_prose, val_chat = encode_stream(tok, p_val), encode_stream(tok, c_val_text)
    val_forms = encode_stream(tok, [render_chat(m) for m in c_val_forms])
    held_in = [render_chat(m) for m in c_train if len(m) == 2 and m[0]["content"].startswith("What does ")][:300]
    val_sets = {
        "val_prose": chunks(val_prose, args.seq, 256),
        "val_definitions_held_out": chunks(val_chat, args.seq, 64),
        "val_inflections_held_out": chunks(val_forms, args.seq, 64),
        "train_definitions": chunks(encode_stream(tok, held_in), args.seq, 64),
    }
    log.update({"encode_seconds": round(time.time() - t, 1), "prose_tokens": prose.numel(), "chat_tokens": chat.numel(),
                "val_prose_tokens": val_prose.numel(), "val_chat_tokens": val_chat.numel()})
    print(json.dumps({k: v for k, v in log.items() if k != "args"}), flush=True)
    prose, chat = prose.to(dev), chat.to(dev)

    model = (StandInLlama(cfg) if args.local_test else make_model(cfg)).to(dev)
    log["parameters"] = sum(p.numel() for p in model.parameters())
    print(f"parameters {log['parameters']}", flush=True)
    train(model, prose, chat, val_sets, args, dev, log)

    # float16 weights, computed in float32 from here on (as weblm computes)
    model = model.half().float().eval()
    if not args.local_test:
        save_hf(model, tok, cfg, out)
    log["eval_f16_weights"] = evaluate(model, val_sets, dev, False, 64)
    log["val_perplexity_prose"] = round(math.exp(log["eval_f16_weights"]["val_prose"]), 2)

    # greedy answers and samples, in float32 (no TF32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    use_hf = not args.local_test
    render = None
    try:
        if use_hf:
            render = render_with_transformers(out)
            probe = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What does lantern mean?"}]
            log["template_agrees"] = render(probe) == render_chat(probe, True)
            print("apply_chat_template:", repr(render(probe)), log["template_agrees"], flush=True)
    except Exception as e:  # keep going with the Python renderer; the failure is in the log
        log["apply_chat_template_error"] = repr(e)
        print("apply_chat_template failed:", repr(e), flush=True)
        render = None
    ask = lambda q: (render or (lambda m: render_chat(m, True)))([{"role": "user", "content": q}])
    encode = lambda s: tok.encode_batch([s])[0].ids
    rng = random.Random(5)
    train_words = [w for w, e in qa.items() if e["split"] == "train"]
    held_in_random = rng.sample(train_words, min(args.eval_words, len(train_words)))
    train_forms = [w for w, f in forms.items() if f["split"] == "train"]
    # (group, word, question, criterion): decided before any result was seen (models/tiny-books/README.md)
    by_gloss = lambda w: (lambda a: overlap_ok(a, qa[w]["gloss"], w)[0])
    by_base = lambda w: (lambda a: inflection_ok(a, forms[w]["base"], forms[w]["gloss"]))
    cases = [("held_in_top", w, f"What does {w} mean?", by_gloss(w)) for w in train_words[: args.eval_words // 2]]
    cases += [("held_in_random", w, f"What does {w} mean?", by_gloss(w)) for w in held_in_random]
    cases += [("held_out", w, f"What does {w} mean?", by_gloss(w)) for w in [w for w, e in qa.items() if e["split"] == "val"][: args.eval_words // 2]]
    for i, uq in enumerate(unseen_questions):  # "unseen_phrasing", "unseen_phrasing_2", ...
        cases += [("unseen_phrasing" + (f"_{i + 1}" if i else ""), w, uq.format(w=w), by_gloss(w)) for w in held_in_random]
    cases += [("held_in_inflections", w, f"What does {w} mean?", by_base(w)) for w in rng.sample(train_forms, min(args.eval_words // 2, len(train_forms)))]
    cases += [("held_out_inflections", w, f"What does {w} mean?", by_base(w)) for w in [w for w, f in forms.items() if f["split"] == "val"][: args.eval_words]]
    t = time.time()
    stop = {END, IM_END}
    answers = greedy_batch(model, [encode(ask(q)) for _, _, q, _ in cases], 48, dev, stop)
    results: dict[str, list] = {}
    for (g, w, q, crit), ids in zip(cases, answers):
        a = tok.decode(ids, skip_special_tokens=True)
        expected = (forms[w] if g.endswith("inflections") else qa[w])["answer"]
        results.setdefault(g, []).append({"word": w, "question": q, "answer": a, "expected": expected, "ok": crit(a), "exact": a.strip() == expected})
    log["eval_seconds"] = round(time.time() - t, 1)
    log["definition_eval"] = {g: {"asked": len(r), "ok": sum(x["ok"] for x in r), "exact": sum(x["exact"] for x in r)} for g, r in results.items()}
    print(json.dumps(log["definition_eval"]), flush=True)
    lines = ["# tiny-books samples (greedy, float16 weights computed in float32)", ""]
    prompts = ["Hello", "What can you do?"] + [f"What does {w} mean?" for w in ["lantern", "ship", "river", "king", "house", "ocean", "anchor", "harbor", "courage", "winter"]]
    prompts += ["Explain the word river.", "Describe the meaning of lantern.", "What does rivers mean?", "What does kings mean?", "Continue this text: The ship sailed"]
    chat_out = greedy_batch(model, [encode(ask(q)) for q in prompts], 64, dev, stop)
    for q, ids in zip(prompts, chat_out):
        lines += [f"Q: {q}", f"A: {tok.decode(ids, skip_special_tokens=True)}", ""]
    prose_prompts = ["The ship", "In the beginning", "The President said that", "Call me Ishmael.", "It was a cold morning and"]
    for p, ids in zip(prose_prompts, greedy_batch(model, [encode(p) for p in prose_prompts], 48, dev, {END})):
        lines += [f"PROSE: {p}", f"  -> {tok.decode(ids, skip_special_tokens=True)}", ""]
    for g, r in results.items():
        lines.append(f"## {g}: {sum(x['ok'] for x in r)}/{len(r)} meet the criterion, {sum(x['exact'] for x in r)} exact")
        for x in r[:25]:
            lines.append(f"{'ok ' if x['ok'] else 'BAD'} {x['question']} {x['answer']}  || {x['expected']}")
        lines.append("")
    if use_hf:
        try:
            write_reference(out, tok, render or (lambda m: render_chat(m, True)), p_val, log)
        except Exception as e:  # the model and its figures still come back
            log["reference_error"] = repr(e)
            print("reference failed:", repr(e), flush=True)
    log["total_seconds"] = round(time.time() - t_start, 1)
    (out / "samples.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "eval.json").write_text(json.dumps(results, indent=0), encoding="utf-8")
    (out / "train_log.json").write_text(json.dumps(log, indent=1), encoding="utf-8")
    print("\n".join(lines[:60]))
    print(json.dumps({k: v for k, v in log.items() if k not in ("curve", "args")}, indent=1))


def save_hf(model, tok, cfg: dict, out: Path) -> None:
    """save_pretrained in float16 + tokenizer files; model.safetensors alone, the small files in model_files.tar."""
    from transformers import GenerationConfig

    d = Path("/tmp/tiny-books-work/tiny-books")  # not under $OUT: what comes back is the two files below
    shutil.rmtree(d, ignore_errors=True)
    model.generation_config = GenerationConfig(bos_token_id=END, eos_token_id=[IM_END, END], pad_token_id=END)
    model.half().save_pretrained(d)
    model.float()
    tok.save(str(d / "tokenizer.json"))
    added = {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True} for i, t in enumerate(SPECIAL)}
    tc = {
        "add_bos_token": False, "add_eos_token": False, "added_tokens_decoder": added, "bos_token": None,
        "chat_template": CHAT_TEMPLATE, "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>",
        "model_max_length": cfg["max_position_embeddings"], "pad_token": "<|endoftext|>", "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": None,
    }
    (d / "tokenizer_config.json").write_text(json.dumps(tc, indent=2), encoding="utf-8")
    shutil.move(str(d / "model.safetensors"), str(out / "model.safetensors"))
    with tarfile.open(out / "model_files.tar", "w") as tar:
        for f in sorted(d.iterdir()):
            tar.add(f, arcname=f"tiny-books/{f.name}")
    shutil.copy(out / "model.safetensors", d / "model.safetensors")


def write_reference(out: Path, tok, render, p_val: list[str], log: dict) -> None:
    """reference/ for weblm's parity test: transformers' float32 computation (CPU) of the saved float16 weights:
    the logits at every position of 24 tokens of held-out prose, and the greedy ids of 2 prompts (up to and with
    the stop token). Added to model_files.tar."""
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, __version__ as tf_version

    d = Path("/tmp/tiny-books-work/tiny-books")
    m = AutoModelForCausalLM.from_pretrained(str(d), dtype=torch.float32).eval()
    ids = tok.encode_batch([p_val[0]])[0].ids[:24]
    with torch.no_grad():
        logits = m(input_ids=torch.tensor([ids])).logits[0].float().contiguous()
    cases = [("chat", render([{"role": "user", "content": "What does river mean?"}]), {END, IM_END}), ("prose", "In the beginning", {END, IM_END})]
    prompts = []
    for name, text, stop in cases:
        p = tok.encode_batch([text])[0].ids
        x, gen, margin = list(p), [], float("inf")
        with torch.no_grad():
            for _ in range(24):
                row = m(input_ids=torch.tensor([x])).logits[0, -1].float()
                top = row.topk(2).values
                margin = min(margin, float(top[0] - top[1]))
                t = int(row.argmax())
                gen.append(t)
                x.append(t)
                if t in stop:
                    break
        prompts.append({"name": name, "prompt": text, "input_ids": p, "greedy_ids": gen, "text": tok.decode(gen, skip_special_tokens=True), "min_top2_margin": round(margin, 5)})
    r = d / "reference"
    r.mkdir(exist_ok=True)
    save_file({"logits": logits, "input_ids": torch.tensor(ids, dtype=torch.int32)}, str(r / "expected.safetensors"))
    (r / "expected.json").write_text(json.dumps({
        "about": "transformers LlamaForCausalLM, float32 on the CPU, of model.safetensors (float16): logits of input_ids (held-out prose) and greedy ids",
        "torch": torch.__version__, "transformers": tf_version, "text": tok.decode(ids), "input_ids": ids, "prompts": prompts,
    }, indent=1), encoding="utf-8")
    with tarfile.open(out / "model_files.tar", "a") as tar:
        for f in sorted(r.iterdir()):
            tar.add(f, arcname=f"tiny-books/reference/{f.name}")
    log["reference"] = {p["name"]: {"text": p["text"], "min_top2_margin": p["min_top2_margin"]} for p in prompts}
    print("reference:", json.dumps(log["reference"]), flush=True)


def render_with_transformers(out: Path):
    from transformers import AutoTokenizer

    t = AutoTokenizer.from_pretrained("/tmp/tiny-books-work/tiny-books")
    return lambda msgs: t.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)


if __name__ == "__main__":
    main()
