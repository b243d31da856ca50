#!/usr/bin/env python3
"""Trains models/tiny-fashion-vlm: a `llava` model (CLIP vision tower on 28x28 images, MLP projector, a small
Llama) that answers templated questions about Fashion-MNIST images, with its own byte-level BPE tokenizer.

    python3 tools/bundled/train_fashion_vlm.py --train .cache/bundled/fashion-train.npz.xz \
        --test .cache/bundled/fashion-test.npz --testset models/tiny-fashion-vlm/testset --out $OUT [--budget-s 270]

On the device tool's NVIDIA machine (PyTorch 2.11, transformers 5.17, tokenizers 0.23, safetensors, PIL); no
network. The data comes from tools/bundled/fashion_data.py: a class-balanced subsample of the TRAIN split
(1,000 of its images are kept aside as validation, to pick the checkpoint) and the whole TEST split, used only
for the held-out evaluation after training. Steps: train the tokenizer on the templated conversations
(HF `tokenizers`, byte-level BPE, special tokens <|endoftext|> <|im_start|> <|im_end|> <image> = ids 0-3);
build LlavaForConditionalGeneration; train with AdamW, bf16 autocast, warmup + cosine over a wall-clock
budget, on random (image, question, answer) conversations with random 2-pixel shifts and horizontal flips,
the loss on the answer tokens only; save with save_pretrained in float16 + tokenizer, image processor and
processor configs; then, with the float16 weights computed in float32 (as weblm computes): greedy answers on
the whole test split, on the PNGs of --testset, and reference outputs for weblm's parity tests (logits, image
features and greedy ids of a few held-out images and prompts, computed on the CPU in float32; with
--reference-hidden also the hidden states of the first, layer by layer).

Out ($OUT): model.safetensors, model_files.tar (config.json, generation_config.json, tokenizer.json,
tokenizer_config.json, preprocessor_config.json, processor_config.json, reference/expected.safetensors,
reference/expected.json), train_log.json, eval.json, samples.txt.

--local-test runs the data pipeline and a few training steps on the CPU with a stand-in llava written in
plain PyTorch and a character-level stand-in tokenizer (no transformers or tokenizers needed).
"""
from __future__ import annotations

import argparse
import io
import json
import lzma
import math
import os
import random
import shutil
import tarfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"]  # ids 0-3
END, IM_START, IM_END, IMAGE = 0, 1, 2, 3
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string %}{{- message['content'] }}"
    "{%- else %}{%- for part in message['content'] %}"
    "{%- if part['type'] == 'image' %}{{- '<image>' }}{%- elif part['type'] == 'text' %}{{- part['text'] }}{%- endif %}"
    "{%- endfor %}{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
IMAGE_SIZE, PATCH = 28, 4
PATCHES = (IMAGE_SIZE // PATCH) ** 2  # 49 image tokens (the class token's row is dropped)
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST's pixel mean and deviation (train split), on all three channels
VISION = dict(
    model_type="clip_vision_model", hidden_size=96, intermediate_size=256, num_hidden_layers=4, num_attention_heads=6,
    image_size=IMAGE_SIZE, patch_size=PATCH, num_channels=3, layer_norm_eps=1e-5, hidden_act="quick_gelu",
    attention_dropout=0.0, projection_dim=96,
)
TEXT = dict(
    model_type="llama", hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=2, head_dim=32, max_position_embeddings=256, rms_norm_eps=1e-5,
    rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, tie_word_embeddings=False, attention_bias=False,
    mlp_bias=False, hidden_act="silu", bos_token_id=END, eos_token_id=IM_END, pad_token_id=END,
)

# ---------------------------------------------------------------------------------------------------------
# What the data supports: the class, and what follows from it (a shoe, worn on the feet, worn at all, a bag)
# ---------------------------------------------------------------------------------------------------------

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
NOUN = ["a T-shirt", "a pair of trousers", "a pullover", "a dress", "a coat", "a sandal", "a shirt", "a sneaker", "a bag", "an ankle boot"]
SHOES = {5, 7, 9}
WORN = set(range(10)) - {8}
# The words that name each class in an answer, most specific first ("t-shirt" before "shirt").
KEYWORDS = [(0, "t-shirt"), (9, "ankle boot"), (1, "trousers"), (2, "pullover"), (3, "dress"), (4, "coat"), (5, "sandal"),
            (6, "shirt"), (7, "sneaker"), (8, "bag")]
WHAT = [("What is in this picture?", 8), ("What is this?", 2), ("What is shown in the image?", 1), ("What do you see?", 1),
        ("What kind of item is this?", 1), ("Describe the picture.", 1)]
SHOE_Q = ["Is this a shoe?", "Is it a shoe?", "Is it footwear?"]
FEET_Q = ["Is it worn on the feet?", "Do you wear it on your feet?"]
WEAR_Q = ["Can you wear it?", "Is it something you wear?"]
BAG_Q = ["Is this a bag?", "Is it a bag?"]
ABOUT = ("I am tiny-fashion-vlm, a very small vision model trained on Fashion-MNIST. Show me a small grayscale "
         "picture of a garment, a shoe or a bag and ask me what it is.")
TEXT_ONLY = {
    "Hello": "Hello! " + ABOUT, "Hi": "Hi! " + ABOUT, "Who are you?": ABOUT, "What can you do?": ABOUT, "Help": ABOUT,
    "What is in this picture?": "I see no picture. Attach an image of a garment, a shoe or a bag.",
    "What is this?": "I see no picture. Attach an image of a garment, a shoe or a bag.",
}


def what_answer(c: int) -> str:
    n = NOUN[c]
    return n[0].upper() + n[1:] + "."


def yes_no(ok: bool, c: int) -> str:
    return f"{'Yes' if ok else 'No'}, it is {NOUN[c]}."


def class_of(answer: str) -> int | None:
    """The class an answer names (the first keyword found), for the evaluations and the tests."""
    a = answer.lower()
    for c, k in KEYWORDS:
        if k in a:
            return c
    return None


def pairs_for(c: int) -> list[tuple[str, str, float]]:
    """Every (question, answer, weight) asked about an image of class c; the weights sum to 1."""
    out: list[tuple[str, str, float]] = []
    tw = sum(w for _, w in WHAT)
    out += [(q, what_answer(c), 0.45 * w / tw) for q, w in WHAT]
    out += [(q, yes_no(c in SHOES, c), 0.12 / len(SHOE_Q)) for q in SHOE_Q]
    out += [(q, yes_no(c in SHOES, c), 0.12 / len(FEET_Q)) for q in FEET_Q]
    out += [(q, yes_no(c in WORN, c), 0.08 / len(WEAR_Q)) for q in WEAR_Q]
    out += [(q, yes_no(c == 8, c), 0.08 / len(BAG_Q)) for q in BAG_Q]
    # "Is this <class>?": the true class half the time, each other class the rest
    out.append((f"Is this {NOUN[c]}?", yes_no(True, c), 0.075))
    out += [(f"Is this {NOUN[o]}?", yes_no(False, c), 0.075 / 9) for o in range(10) if o != c]
    return out


def render_chat(messages: list[dict], add_generation_prompt: bool = False) -> str:
    """CHAT_TEMPLATE in Python (checked against transformers' apply_chat_template on the device)."""
    s = ""
    for m in messages:
        c = m["content"]
        body = c if isinstance(c, str) else "".join("<image>" if p["type"] == "image" else p["text"] for p in c)
        s += f"<|im_start|>{m['role']}\n{body}<|im_end|>\n"
    return s + ("<|im_start|>assistant\n" if add_generation_prompt else "")


def user(q: str, image: bool) -> list[dict]:
    return [{"role": "user", "content": ([{"type": "image"}] if image else []) + [{"type": "text", "text": q}]}]


def all_texts() -> list[str]:
    texts = []
    for c in range(10):
        for q, a, _ in pairs_for(c):
            texts.append(render_chat(user(q, True) + [{"role": "assistant", "content": a}]))
    for q, a in TEXT_ONLY.items():
        texts.append(render_chat(user(q, False) + [{"role": "assistant", "content": a}]))
    return texts


# ---------------------------------------------------------------------------------------------------------
# Tokenizer (HF tokenizers) and its stand-in
# ---------------------------------------------------------------------------------------------------------


def train_tokenizer(texts: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    plain = [t for s in texts for t in s.replace("<|im_start|>", "\n").replace("<|im_end|>", "\n").split("<image>")]
    tok.train_from_iterator(plain * 20, trainer=trainer)
    assert [tok.token_to_id(t) for t in SPECIAL] == [END, IM_START, IM_END, IMAGE]
    return tok


class StandInTokenizer:
    """--local-test only: the special tokens, then one id per character."""

    def __init__(self, texts: list[str]):
        chars = sorted({ch for s in texts for part in self.split(s) if part not in SPECIAL for ch in part})
        self.itos = SPECIAL + chars
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @staticmethod
    def split(s: str) -> list[str]:
        out, i = [], 0
        while i < len(s):
            for t in SPECIAL:
                if s.startswith(t, i):
                    out.append(t)
                    i += len(t)
                    break
            else:
                out.append(s[i])
                i += 1
        return out

    def encode(self, s: str) -> list[int]:
        return [self.stoi[t] for t in self.split(s)]

    def decode(self, ids) -> str:
        return "".join(self.itos[i] for i in ids if i >= len(SPECIAL))

    def get_vocab_size(self) -> int:
        return len(self.itos)


def encode(tok, s: str) -> list[int]:
    return tok.encode(s) if isinstance(tok, StandInTokenizer) else tok.encode(s).ids


def decode(tok, ids) -> str:
    return tok.decode(ids) if isinstance(tok, StandInTokenizer) else tok.decode(list(ids), skip_special_tokens=True)


def expand(ids: list[int]) -> list[int]:
    """One <image> token -> the 49 the vision tower's features fill (what LlavaProcessor does)."""
    return [t for i in ids for t in ([IMAGE] * PATCHES if i == IMAGE else [i])]


class Conversations:
    """Every distinct conversation as padded ids [N, T] + answer mask, and per class the weights to draw them."""

    def __init__(self, tok, dev: str):
        rows, masks, self.meta = [], [], []
        weights = np.zeros((10, 0))
        cols = []
        for c in range(10):
            for q, a, w in pairs_for(c):
                cols.append((c, q, a, w, True))
        for q, a in TEXT_ONLY.items():
            cols.append((-1, q, a, 1.0 / len(TEXT_ONLY), False))
        for c, q, a, w, img in cols:
            prompt = expand(encode(tok, render_chat(user(q, img), True)))
            full = expand(encode(tok, render_chat(user(q, img) + [{"role": "assistant", "content": a}])))
            assert full[: len(prompt)] == prompt, (q, a)
            full = full[: full.index(IM_END, len(prompt)) + 1]  # up to the answer's <|im_end|>
            rows.append(full)
            masks.append([0] * len(prompt) + [1] * (len(full) - len(prompt)))
            self.meta.append({"class": c, "question": q, "answer": a, "image": img})
        T = max(len(r) for r in rows)
        self.T = T
        self.ids = torch.tensor([r + [END] * (T - len(r)) for r in rows], device=dev)
        self.mask = torch.tensor([m + [0] * (T - len(m)) for m in masks], device=dev, dtype=torch.bool)
        w = torch.zeros(10, len(rows))
        for j, (c, _, _, wt, img) in enumerate(cols):
            if img:
                w[c, j] = wt
        self.class_weights = w.to(dev)
        self.text_only = torch.tensor([j for j, m in enumerate(self.meta) if not m["image"]], device=dev)

    def draw(self, labels: torch.Tensor, n_text: int, gen: torch.Generator | None = None):
        j = torch.multinomial(self.class_weights[labels], 1).squeeze(1)
        if n_text:
            j = torch.cat([j, self.text_only[torch.randint(0, len(self.text_only), (n_text,), device=labels.device)]])
        return self.ids[j], self.mask[j]


# ---------------------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------------------


def load_npz(path: str) -> dict[str, np.ndarray]:
    data = Path(path).read_bytes()
    if path.endswith(".xz"):
        data = lzma.decompress(data)
    with np.load(io.BytesIO(data)) as z:
        return {k: z[k] for k in z.files}


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """uint8 [B, 28, 28] -> pixel_values [B, 3, 28, 28] as the image processor makes them (rescale, normalize)."""
    v = (x.float() * (1 / 255) - MEAN) / STD
    return v[:, None].expand(-1, 3, -1, -1).contiguous()


def augment(x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """Random shifts of up to 2 pixels (zero fill) and horizontal flips, uint8 [B, 28, 28]."""
    B = x.shape[0]
    p = F.pad(x, (2, 2, 2, 2))
    dx = torch.randint(0, 5, (B,), device=x.device)
    dy = torch.randint(0, 5, (B,), device=x.device)
    ar = torch.arange(IMAGE_SIZE, device=x.device)
    rows = (dy[:, None] + ar)[:, :, None].expand(B, IMAGE_SIZE, IMAGE_SIZE)
    cols = (dx[:, None] + ar)[:, None, :].expand(B, IMAGE_SIZE, IMAGE_SIZE)
    out = p[torch.arange(B, device=x.device)[:, None, None], rows, cols]
    flip = torch.rand(B, device=x.device) < 0.5
    return torch.where(flip[:, None, None], out.flip(-1), out)


# ---------------------------------------------------------------------------------------------------------
# Model (transformers) and its stand-in
# ---------------------------------------------------------------------------------------------------------


def llava_config(vocab: int) -> dict:
    return {
        "image_seq_length": PATCHES, "image_token_index": IMAGE, "multimodal_projector_bias": True,
        "projector_hidden_act": "gelu", "text_config": {**TEXT, "vocab_size": vocab}, "tie_word_embeddings": False,
        "vision_config": dict(VISION), "vision_feature_layer": -1, "vision_feature_select_strategy": "default",
    }


def make_model(cfg: dict):
    import transformers

    torch.manual_seed(0)
    return transformers.LlavaForConditionalGeneration(transformers.CONFIG_MAPPING["llava"](**cfg))


class StandInLlava(torch.nn.Module):
    """--local-test only: a CLIP ViT (pre-LN, class token), the projector and a Llama-like decoder in plain PyTorch."""

    def __init__(self, cfg: dict):
        super().__init__()
        v, t = cfg["vision_config"], cfg["text_config"]
        D, H = v["hidden_size"], t["hidden_size"]
        self.patch = torch.nn.Conv2d(3, D, PATCH, PATCH, bias=False)
        self.cls = torch.nn.Parameter(torch.randn(D) * 0.02)
        self.pos = torch.nn.Parameter(torch.randn(PATCHES + 1, D) * 0.02)
        self.pre = torch.nn.LayerNorm(D)
        enc = torch.nn.TransformerEncoderLayer(D, v["num_attention_heads"], v["intermediate_size"], 0.0, batch_first=True, norm_first=True)
        self.vit = torch.nn.TransformerEncoder(enc, v["num_hidden_layers"])
        self.proj = torch.nn.Sequential(torch.nn.Linear(D, H), torch.nn.GELU(), torch.nn.Linear(H, H))
        self.embed = torch.nn.Embedding(t["vocab_size"], H)
        dec = torch.nn.TransformerEncoderLayer(H, t["num_attention_heads"], t["intermediate_size"], 0.0, batch_first=True, norm_first=True)
        self.dec = torch.nn.TransformerEncoder(dec, t["num_hidden_layers"])
        self.norm = torch.nn.LayerNorm(H)
        self.head = torch.nn.Linear(H, t["vocab_size"], bias=False)

    def forward(self, input_ids, pixel_values=None, **_):
        x = self.embed(input_ids)
        if pixel_values is not None:
            p = self.patch(pixel_values).flatten(2).transpose(1, 2)
            h = torch.cat([self.cls.expand(p.shape[0], 1, -1), p], 1) + self.pos
            f = self.proj(self.vit(self.pre(h))[:, 1:]).reshape(-1, x.shape[-1])
            x = x.masked_scatter((input_ids == IMAGE)[..., None], f.to(x.dtype))
        T = input_ids.shape[1]
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)

        class Out:
            pass

        o = Out()
        o.logits = self.head(self.norm(self.dec(x, mask=causal)))
        return o


def logits_of(model, ids: torch.Tensor, pixels: torch.Tensor | None) -> torch.Tensor:
    kw = {"pixel_values": pixels} if pixels is not None and pixels.shape[0] else {}
    return model(input_ids=ids, use_cache=False, **kw).logits


# ---------------------------------------------------------------------------------------------------------
# Training and evaluation
# ---------------------------------------------------------------------------------------------------------


@torch.no_grad()
def answer_batch(model, tok, prompt: list[int], images: torch.Tensor, max_new: int, amp: bool, dev: str) -> list[str]:
    """Greedy answers to one prompt over a batch of uint8 images (no cache: the prompts have one length)."""
    B = images.shape[0]
    x = torch.tensor(prompt, device=dev)[None].repeat(B, 1)
    px = to_pixels(images.to(dev))
    done = torch.zeros(B, dtype=torch.bool, device=dev)
    gen = []
    for _ in range(max_new):
        with torch.autocast(device_type="cuda" if dev == "cuda" else "cpu", dtype=torch.bfloat16, enabled=amp):
            nxt = logits_of(model, x, px)[:, -1].float().argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, IM_END), nxt)
        gen.append(nxt)
        done |= nxt == IM_END
        x = torch.cat([x, nxt[:, None]], 1)
        if bool(done.all()):
            break
    g = torch.stack(gen, 1).tolist()
    return [decode(tok, r[: r.index(IM_END)] if IM_END in r else r) for r in g]


def accuracy(model, tok, images: np.ndarray, labels: np.ndarray, question: str, judge, amp: bool, dev: str, bs: int = 2000):
    prompt = expand(encode(tok, render_chat(user(question, True), True)))
    answers = []
    for i in range(0, len(images), bs):
        answers += answer_batch(model, tok, prompt, torch.from_numpy(images[i : i + bs]), 12, amp, dev)
    ok = [judge(a, int(c)) for a, c in zip(answers, labels)]
    return sum(ok) / max(len(ok), 1), answers


def judge_what(a: str, c: int) -> bool:
    return class_of(a) == c


def judge_exact_what(a: str, c: int) -> bool:
    return a.strip() == what_answer(c)


def judge_shoe(a: str, c: int) -> bool:
    return a.strip().startswith("Yes" if c in SHOES else "No")


def train(model, tok, conv: Conversations, x_tr, y_tr, x_val, y_val, args, dev: str, log: dict):
    amp = dev == "cuda"
    B = args.batch
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "position" not in n and "embed_tokens" not in n]
    ids_decay = {id(p) for p in decay}
    no_decay = [p for p in model.parameters() if id(p) not in ids_decay]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.98), eps=1e-8, **({"fused": True} if dev == "cuda" else {}),
    )
    xt = torch.from_numpy(x_tr).to(dev)
    yt = torch.from_numpy(y_tr.astype(np.int64)).to(dev)
    t0 = time.time()
    step, next_eval, seen = 0, 0.1, 0
    curve, best = [], (-1.0, None, 0)
    model.train()
    loss = torch.tensor(0.0)
    while True:
        el = time.time() - t0
        frac = el / args.budget_s if args.budget_s > 0 else step / max(args.steps, 1)
        if frac >= 1.0 or (args.steps and step >= args.steps):
            break
        if frac >= next_eval:
            model.eval()
            acc, _ = accuracy(model, tok, x_val, y_val, "What is in this picture?", judge_what, amp, dev)
            model.train()
            curve.append({"step": step, "s": round(el, 1), "images": seen, "loss": round(loss.item(), 4), "val_acc": round(acc, 4)})
            print(json.dumps(curve[-1]), flush=True)
            if acc >= best[0]:
                best = (acc, {k: v.detach().clone() for k, v in model.state_dict().items()}, step)
            next_eval += 0.1
        warm = min(1.0, (step + 1) / args.warmup)
        lr = args.lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
        for g in opt.param_groups:
            g["lr"] = lr
        k = torch.randint(0, xt.shape[0], (B,), device=dev)
        ids, mask = conv.draw(yt[k], args.text_rows)
        px = to_pixels(augment(xt[k]))
        with torch.autocast(device_type="cuda" if dev == "cuda" else "cpu", dtype=torch.bfloat16, enabled=amp):
            logits = logits_of(model, ids[:, :-1], px)
        tgt = mask[:, 1:]
        loss = F.cross_entropy(logits.float()[tgt], ids[:, 1:][tgt])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        seen += B
        if step % 200 == 0:
            print(f"step {step} {time.time() - t0:.0f}s lr {lr:.2e} loss {loss.item():.4f}", flush=True)
    el = time.time() - t0
    model.eval()
    acc, _ = accuracy(model, tok, x_val, y_val, "What is in this picture?", judge_what, amp, dev)
    curve.append({"step": step, "s": round(el, 1), "images": seen, "loss": round(loss.item(), 4), "val_acc": round(acc, 4)})
    print(json.dumps(curve[-1]), flush=True)
    if acc >= best[0]:
        best = (acc, None, step)
    else:
        model.load_state_dict(best[1])
    log.update({"steps": step, "train_seconds": round(el, 1), "images_seen": seen, "epochs": round(seen / xt.shape[0], 1),
                "final_train_loss": round(loss.item(), 4), "curve": curve, "kept_step": best[2], "kept_val_acc": round(best[0], 4)})


# ---------------------------------------------------------------------------------------------------------
# Saving, the transformers round trip, the references
# ---------------------------------------------------------------------------------------------------------

WORK = Path("/tmp/tiny-fashion-work/tiny-fashion-vlm")  # not under $OUT: model.safetensors + model_files.tar come back


def save_hf(model, tok, out: Path) -> None:
    from transformers import CLIPImageProcessor, GenerationConfig

    d = WORK
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    model.generation_config = GenerationConfig(bos_token_id=END, eos_token_id=[IM_END, END], pad_token_id=END)
    model.half().save_pretrained(d)
    model.float()
    tok.save(str(d / "tokenizer.json"))
    added = {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
             for i, t in enumerate(SPECIAL)}
    tc = {
        "add_bos_token": False, "add_eos_token": False, "added_tokens_decoder": added, "bos_token": None,
        "chat_template": CHAT_TEMPLATE, "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>",
        "model_max_length": TEXT["max_position_embeddings"], "pad_token": "<|endoftext|>", "processor_class": "LlavaProcessor",
        "tokenizer_class": "PreTrainedTokenizerFast", "unk_token": None,
    }
    (d / "tokenizer_config.json").write_text(json.dumps(tc, indent=2), encoding="utf-8")
    proc = CLIPImageProcessor(
        # resize to 28 x 28 (a no-op on Fashion-MNIST's images; any other picture is squashed to the tower's size)
        do_resize=True, size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, resample=3, do_center_crop=False, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        do_rescale=True, rescale_factor=1 / 255, do_normalize=True, image_mean=[MEAN] * 3, image_std=[STD] * 3, do_convert_rgb=True,
    )
    proc.save_pretrained(d)
    pc = {"image_token": "<image>", "num_additional_image_tokens": 1, "patch_size": PATCH, "processor_class": "LlavaProcessor",
          "vision_feature_select_strategy": "default"}
    (d / "processor_config.json").write_text(json.dumps(pc, indent=2), encoding="utf-8")
    shutil.copy(d / "model.safetensors", out / "model.safetensors")
    pack(out)


def pack(out: Path) -> None:
    with tarfile.open(out / "model_files.tar", "w") as tar:
        for f in sorted(WORK.rglob("*")):
            if f.is_file() and f.name != "model.safetensors":
                tar.add(f, arcname=f"tiny-fashion-vlm/{f.relative_to(WORK)}")


def testset_images(testset: Path):
    from PIL import Image

    labels = json.loads((testset / "labels.json").read_text())
    names = sorted(labels)
    ims = [Image.open(testset / n) for n in names]
    return names, [labels[n]["label"] for n in names], ims


def hf_checks(out: Path, tok, testset: Path, log: dict, results: dict, hidden: bool) -> None:
    """Reloads the saved folder with transformers in float32 on the CPU: chat template, processor, testset answers, references."""
    from safetensors.torch import save_file
    from transformers import AutoTokenizer, CLIPImageProcessor, LlavaForConditionalGeneration

    torch.backends.cuda.matmul.allow_tf32 = False
    d = WORK
    model = LlavaForConditionalGeneration.from_pretrained(d, dtype=torch.float32).eval()
    hf_tok = AutoTokenizer.from_pretrained(d)
    proc = CLIPImageProcessor.from_pretrained(d)
    probe = user("Is this a shoe?", True)
    rendered = hf_tok.apply_chat_template(probe, tokenize=False, add_generation_prompt=True)
    log["template_agrees"] = rendered == render_chat(probe, True)
    log["tokenizer_agrees"] = hf_tok(rendered, add_special_tokens=False)["input_ids"] == encode(tok, rendered)
    print("apply_chat_template:", repr(rendered), log["template_agrees"], log["tokenizer_agrees"], flush=True)

    names, labels, ims = testset_images(testset)
    pv = proc(images=[im.convert("RGB") for im in ims], return_tensors="pt")["pixel_values"].float()
    raw = torch.from_numpy(np.stack([np.asarray(im, dtype=np.uint8) for im in ims]))
    log["processor_matches_training_pixels"] = float((pv - to_pixels(raw)).abs().max())
    try:
        from transformers import LlavaProcessor

        lp = LlavaProcessor(image_processor=proc, tokenizer=hf_tok, patch_size=PATCH, vision_feature_select_strategy="default",
                            num_additional_image_tokens=1, chat_template=CHAT_TEMPLATE)
        ids_lp = lp(text=rendered, images=ims[0].convert("RGB"), return_tensors="pt")["input_ids"][0].tolist()
        log["llava_processor_agrees"] = ids_lp == expand(encode(tok, rendered))
    except Exception as e:
        log["llava_processor_error"] = repr(e)

    # testset/: every PNG, "What is in this picture?", greedy with model.generate (the KV cache), float32
    q = "What is in this picture?"
    prompt = expand(encode(tok, render_chat(user(q, True), True)))
    rows = []
    with torch.no_grad():
        x = torch.tensor([prompt] * len(ims))
        g = model.generate(input_ids=x, attention_mask=torch.ones_like(x), pixel_values=pv, max_new_tokens=12, do_sample=False,
                           eos_token_id=[IM_END, END], pad_token_id=END)[:, len(prompt):].tolist()
    for n, c, r in zip(names, labels, g):
        r = r[: r.index(IM_END)] if IM_END in r else r
        a = decode(tok, [t for t in r if t != END])
        rows.append({"file": n, "label": c, "answer": a, "ok": class_of(a) == c})
    results["testset_what"] = rows
    log["testset_accuracy_transformers_f32"] = sum(r["ok"] for r in rows) / len(rows)

    # references for weblm: a few PNGs of testset/ with prompts
    cases = [(0, "What is in this picture?"), (37, "Is this a shoe?"), (58, "Is it worn on the feet?"), (91, "What is in this picture?")]
    tensors, meta = {}, []
    for k, (i, question) in enumerate(cases):
        i = min(i, len(names) - 1)
        ids = torch.tensor([expand(encode(tok, render_chat(user(question, True), True)))])
        px = pv[i : i + 1]
        with torch.no_grad():
            fwd = model(input_ids=ids, pixel_values=px, output_hidden_states=True, use_cache=False)
            gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=px, max_new_tokens=12,
                                 do_sample=False, eos_token_id=[IM_END], pad_token_id=END)[0, ids.shape[1]:]
        feats = fwd.image_hidden_states
        if isinstance(feats, (list, tuple)):
            feats = torch.cat([f.reshape(-1, f.shape[-1]) for f in feats])
        p = f"case{k}."
        tensors[p + "input_ids"] = ids[0].to(torch.int32)
        tensors[p + "pixel_values"] = px[0]
        tensors[p + "logits"] = fwd.logits[0].float()
        tensors[p + "image_features"] = feats.reshape(-1, feats.shape[-1]).float()
        tensors[p + "greedy_ids"] = gen.to(torch.int32)
        if k == 0 and hidden:
            for j, h in enumerate(fwd.hidden_states):
                tensors[f"{p}hidden.{j}"] = h[0].float()
            try:
                vt = model.model.vision_tower if hasattr(model, "model") and hasattr(model.model, "vision_tower") else model.vision_tower
                vh = vt(px, output_hidden_states=True).hidden_states
                for j, h in enumerate(vh):
                    tensors[f"{p}vision.{j}"] = h[0].float()
            except Exception as e:
                log["vision_hidden_error"] = repr(e)
        meta.append({"case": k, "image": names[i], "label": labels[i], "question": question,
                     "answer": decode(tok, [t for t in gen.tolist() if t != IM_END]), "tokens": ids.shape[1], "new_tokens": len(gen)})
    (d / "reference").mkdir(exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(d / "reference/expected.safetensors"))
    import transformers

    (d / "reference/expected.json").write_text(json.dumps({
        "cases": meta, "transformers": transformers.__version__, "torch": torch.__version__,
        "note": "float16 weights computed in float32 on the CPU; pixel_values = preprocessor_config.json on testset/<image>; "
                "logits at every prompt position (no cache); greedy_ids from model.generate, up to <|im_end|> (eos)"
                + ("; case0 also has hidden.* (text, after the final norm last) and vision.* (CLIP embeddings after the "
                   "pre-norm, then each layer)" if hidden else ""),
    }, indent=1), encoding="utf-8")
    pack(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", default=".cache/bundled/fashion-train.npz.xz")
    ap.add_argument("--test", default=".cache/bundled/fashion-test.npz")
    ap.add_argument("--testset", default="models/tiny-fashion-vlm/testset")
    ap.add_argument("--out", default=os.environ.get("OUT", "/tmp/tiny-fashion-out"))
    ap.add_argument("--budget-s", type=float, default=270.0, help="training wall-clock seconds")
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: the budget alone)")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--text-rows", type=int, default=8, help="text-only conversations added to each batch")
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--vocab", type=int, default=384)
    ap.add_argument("--val", type=int, default=1000, help="train-split images kept aside to pick the checkpoint")
    ap.add_argument("--reference-hidden", action="store_true", help="also store case 0's hidden states, layer by layer (to find where an engine departs)")
    ap.add_argument("--local-test", action="store_true", help="CPU, stand-in model and tokenizer")
    args = ap.parse_args()
    t_start = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dev = "cuda" if torch.cuda.is_available() and not args.local_test else "cpu"
    if dev == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(0)
    log: dict = {"device": torch.cuda.get_device_name() if dev == "cuda" else "cpu", "torch": torch.__version__, "args": vars(args)}

    tr, te = load_npz(args.train), load_npz(args.test)
    rng = np.random.default_rng(7)
    perm = rng.permutation(len(tr["labels"]))
    val, trn = perm[: args.val], perm[args.val :]
    x_tr, y_tr, x_val, y_val = tr["images"][trn], tr["labels"][trn], tr["images"][val], tr["labels"][val]
    x_te, y_te = te["images"], te["labels"]
    if args.local_test:
        x_te, y_te = x_te[:40], y_te[:40]
    log.update({"train_images": len(y_tr), "val_images": len(y_val), "test_images": len(y_te)})

    texts = all_texts()
    t = time.time()
    tok = StandInTokenizer(texts) if args.local_test else train_tokenizer(texts, args.vocab)
    V = tok.get_vocab_size()
    log["tokenizer_vocab"] = V
    log["tokenizer_seconds"] = round(time.time() - t, 2)
    vocab = (V + 31) // 32 * 32
    conv = Conversations(tok, dev)
    log.update({"conversations": len(conv.meta), "max_tokens": conv.T})
    for m in conv.meta[:3] + conv.meta[-2:]:
        print(m, flush=True)
    cfg = llava_config(vocab)
    if args.local_test:
        cfg["text_config"]["num_hidden_layers"] = 1
    model = (StandInLlava(cfg) if args.local_test else make_model(cfg)).to(dev)
    log["parameters"] = sum(p.numel() for p in model.parameters())
    log["config"] = cfg
    print(json.dumps({k: v for k, v in log.items() if k not in ("args", "config")}), flush=True)

    train(model, tok, conv, x_tr, y_tr, x_val, y_val, args, dev, log)

    # float16 weights, computed in float32 from here on (as weblm computes)
    model = model.half().float().eval()
    if dev == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if not args.local_test:
        save_hf(model, tok, out)
    results: dict = {}

    def guarded(what: str, fn) -> None:  # what was saved still comes back; a failure is in the log
        try:
            fn()
        except Exception as e:
            import traceback

            traceback.print_exc()
            log[f"{what}_error"] = repr(e)

    if not args.local_test:
        guarded("hf_checks", lambda: hf_checks(out, tok, Path(args.testset), log, results, args.reference_hidden))

    def test_eval() -> None:
        t = time.time()
        acc, answers = accuracy(model, tok, x_te, y_te, "What is in this picture?", judge_what, False, dev)
        log["test_accuracy"] = acc
        log["test_exact_answers"] = sum(judge_exact_what(a, int(c)) for a, c in zip(answers, y_te)) / len(y_te)
        conf = np.zeros((10, 10), dtype=int)
        for a, c in zip(answers, y_te):
            p = class_of(a)
            if p is not None:
                conf[int(c), p] += 1
        log["test_confusion"] = conf.tolist()
        log["test_per_class"] = {CLASSES[c]: round(conf[c, c] / max(int((y_te == c).sum()), 1), 4) for c in range(10)}
        for name, q in [("shoe", "Is this a shoe?"), ("feet", "Is it worn on the feet?")]:
            a2, ans2 = accuracy(model, tok, x_te, y_te, q, judge_shoe, False, dev)
            log[f"test_{name}_yes_no_accuracy"] = a2
            log[f"test_{name}_names_class"] = sum(class_of(a) == int(c) for a, c in zip(ans2, y_te)) / len(y_te)
        log["eval_seconds"] = round(time.time() - t, 1)
        print(json.dumps({k: v for k, v in log.items() if k.startswith("test_")}), flush=True)
        results["test_answers_first_200"] = [{"row": i, "label": int(y_te[i]), "answer": answers[i]} for i in range(min(200, len(answers)))]


    def samples() -> None:
        lines = ["# tiny-fashion-vlm samples (greedy, float16 weights computed in float32, held-out test images)", ""]
        qs = ["What is in this picture?", "What is this?", "Is this a shoe?", "Is it worn on the feet?", "Can you wear it?",
              "Is this a bag?", "Is this a dress?"]
        for i in range(0, 2 if args.local_test else 10):
            lines.append(f"test row {i} ({CLASSES[y_te[i]]}):")
            for q in qs:
                p = expand(encode(tok, render_chat(user(q, True), True)))
                a = answer_batch(model, tok, p, torch.from_numpy(x_te[i : i + 1]), 12, False, dev)[0]
                lines.append(f"  Q: {q}  A: {a}")
        for q in ["Hello", "What is in this picture?", "Who are you?"]:
            p = encode(tok, render_chat(user(q, False), True))
            with torch.no_grad():
                x = torch.tensor([p], device=dev)
                gen = []
                for _ in range(60):
                    n = int(logits_of(model, x, None)[0, -1].argmax())
                    if n == IM_END:
                        break
                    gen.append(n)
                    x = torch.cat([x, torch.tensor([[n]], device=dev)], 1)
            lines.append(f"(no image) Q: {q}  A: {decode(tok, gen)}")
        (out / "samples.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print("\n".join(lines), flush=True)


    guarded("test_eval", test_eval)
    guarded("samples", samples)
    log["total_seconds"] = round(time.time() - t_start, 1)
    (out / "eval.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    (out / "train_log.json").write_text(json.dumps(log, indent=1), encoding="utf-8")
    print(json.dumps({k: v for k, v in log.items() if k not in ("curve", "args", "config", "test_confusion")}, indent=1), flush=True)


if __name__ == "__main__":
    main()
