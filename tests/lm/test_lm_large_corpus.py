"""The language model on a corpus in files: the token ids in a memmap in a temporary folder that
never outlives ``fit``, and the same batches, losses and scores as the same text in memory."""

import hashlib
import random
import tempfile
from pathlib import Path

import numpy as np
import pytest
import sentencepiece as spm
import torch

import lstmkit.lm.estimator as lm_estimator
from lstmkit.cli.main import main
from lstmkit.data import Corpus, TextSource, eval_source, load_corpus, scan_text, text_files
from lstmkit.errors import UserError
from lstmkit.lm import LanguageModel
from lstmkit.lm.task import LMTask, token_ids
from lstmkit.tokenizers import EOS_ID, train_tokenizer

MODEL = {
    "embedding_size": 8,
    "hidden_size": 16,
    "num_layers": 1,
    "dropout": 0.0,
    "layer_dropout": 0.0,
}
WORDS = "the a cat dog sat ran on under mat rug quickly slowly big small red é".split()


def corpus_text(lines: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return "".join(
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) + "\n" for _ in range(lines)
    )


@pytest.fixture
def temp_root(tmp_path, monkeypatch):
    """The system's temporary folder, here an empty one to look into."""
    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def lstmkit_files(folder: Path) -> list[Path]:
    """What lstmkit left in a temporary folder (torch keeps caches there too)."""
    return [path for path in folder.iterdir() if path.name.startswith("lstmkit")]


@pytest.fixture
def tasks(monkeypatch):
    """The LMTasks that fits make."""
    made = []

    class Recorded(LMTask):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(lm_estimator, "LMTask", Recorded)
    return made


def expected_ids(kind: str, tokenizer, text: str) -> list[int]:
    """The ids of ``text`` computed here: characters one by one, or each line's words then
    <eos>, or SentencePiece itself on each line."""
    if kind == "char":
        return [tokenizer.token_to_id(c) for c in text]
    lines = text.split("\n")
    ids: list[int] = []
    for k, line in enumerate(lines):
        if kind == "word":
            ids += [tokenizer.token_to_id(w) for w in line.split()]
        else:
            ids += spm.SentencePieceProcessor(model_proto=tokenizer.model).encode(line)
        if k < len(lines) - 1:
            ids.append(EOS_ID)
    return ids


@pytest.mark.parametrize("kind", ["char", "word", "bpe"])
def test_the_memmap_gives_the_batches_of_the_text_in_memory(tmp_path, monkeypatch, kind):
    monkeypatch.setattr(text_files, "CHUNK_BYTES", 50)  # many pieces
    text = corpus_text(60) + "no newline at the end"
    (tmp_path / "c.txt").write_text(text)
    source = scan_text(tmp_path / "c.txt")
    options = {"vocab_size": 60} if kind == "bpe" else {}
    tokenizer = train_tokenizer(kind, source.pieces(), **options)
    in_memory = train_tokenizer(kind, text, **options)
    assert tokenizer.vocabulary == in_memory.vocabulary
    mapped = token_ids(tokenizer, source, tmp_path, "train")
    assert isinstance(mapped, np.memmap)
    assert mapped.dtype == np.uint16
    want = expected_ids(kind, tokenizer, text)
    assert mapped.tolist() == want
    B, T = 3, 7
    N = len(want) // B
    streams = np.array(want[: B * N]).reshape(B, N)
    file_task = LMTask(mapped, mapped, B, T, {})
    memory_task = LMTask(token_ids(in_memory, text, None, "train"), mapped, B, T, {})
    assert file_task.num_batches() == memory_task.num_batches() == -(-(N - 1) // T)
    batches = zip(file_task.batches(0, 2), memory_task.batches(0, 2), strict=True)
    for k, ((x, y, _), (mx, my, _)) in enumerate(batches, start=2):
        i, end = k * T, min(k * T + T, N - 1)  # the last window is shorter
        assert x.tolist() == mx.tolist() == streams[:, i:end].tolist()
        assert y.tolist() == my.tolist() == streams[:, i + 1 : end + 1].tolist()


def fit(corpus, out, **train):
    lm = LanguageModel(
        "word",
        model=MODEL,
        batch_size=4,
        bptt=8,
        optim={"lr": 0.01},
        train={"epochs": 2, "seed": 3, **train},
    )
    return lm.fit(corpus, out=out, progress=False)


def test_fit_on_a_file_trains_as_on_its_text_in_memory(tmp_path, temp_root, tasks):
    (tmp_path / "c.txt").write_text(corpus_text(200))
    corpus = load_corpus(tmp_path / "c.txt")
    strings = Corpus(corpus.train, corpus.valid, corpus.test, corpus.sources)
    from_file = fit(corpus, tmp_path / "file")
    in_memory = fit(strings, tmp_path / "memory")
    assert isinstance(tasks[0].streams, np.memmap)
    assert isinstance(tasks[0].valid, np.memmap)
    assert isinstance(tasks[1].streams, torch.Tensor)
    assert from_file.progress_.history == in_memory.progress_.history
    for name, value in from_file.model_.state_dict().items():
        assert torch.equal(value, in_memory.model_.state_dict()[name]), name
    assert lstmkit_files(temp_root) == []  # the ids went with the temporary folder
    assert not Path(tasks[0].streams.filename).exists()
    test = corpus.stream("test")
    assert isinstance(test, TextSource)
    assert from_file.evaluate(test) == from_file.evaluate(corpus.test)


def test_a_run_on_megabytes_maps_its_ids_and_leaves_only_the_run(tmp_path, temp_root, tasks):
    (tmp_path / "big.txt").write_text(corpus_text(60_000, seed=1))  # 2.5 MB, 440,000 tokens
    out = tmp_path / "run"
    args = ["--data", tmp_path / "big.txt", "--out", out, "--max-steps", "2", "--no-progress"]
    sizes = ["--embedding-size", "8", "--hidden-size", "8", "--num-layers", "1"]
    assert main(["lm", "train", *sizes, *map(str, args)]) == 0
    (task,) = tasks
    assert isinstance(task.streams, np.memmap)  # a view of the file of ids, not a copy
    assert task.streams.size > 400_000
    assert lstmkit_files(temp_root) == []
    names = {p.relative_to(out).as_posix() for p in out.rglob("*")}
    assert not any(name.endswith(".ids") for name in names)
    assert main(["lm", "eval", str(out), "--data", str(tmp_path / "big.txt"), "--json"]) == 0
    assert lstmkit_files(temp_root) == []


def test_a_failed_fit_leaves_no_ids_behind(tmp_path, temp_root):
    (tmp_path / "c.txt").write_text(corpus_text(40))
    lm = LanguageModel("word", model=MODEL, batch_size=10**6)  # fails once the ids are written
    with pytest.raises(UserError, match=r"^batch_size 1000000 is larger than the data"):
        lm.fit(load_corpus(tmp_path / "c.txt"), out=tmp_path / "run", progress=False)
    assert lstmkit_files(temp_root) == []
    assert not (tmp_path / "run").exists()


def test_resuming_checks_the_files_fingerprint(tmp_path, temp_root):
    path = tmp_path / "c.txt"
    path.write_text(corpus_text(200))
    first = fit(load_corpus(path), tmp_path / "run", max_steps=3)
    assert first.progress_.step == 3
    train_lines = path.read_text().splitlines(keepends=True)[:180]  # 90% of 200 lines
    digest = hashlib.sha256("".join(train_lines).encode()).hexdigest()
    recorded = first.save(tmp_path / "saved")
    assert load_corpus(path).fingerprint() == digest
    lm = LanguageModel(train={"max_steps": 5})
    lm.fit(
        load_corpus(path), out=tmp_path / "run", progress=False, resume=tmp_path / "run" / "last"
    )
    assert lm.progress_.step == 5
    path.write_text(corpus_text(200, seed=9))
    with pytest.raises(UserError, match="the training text differs"):
        LanguageModel(train={"max_steps": 7}).fit(
            load_corpus(path),
            out=tmp_path / "run",
            progress=False,
            resume=tmp_path / "run" / "last",
        )
    assert recorded.exists()
    assert lstmkit_files(temp_root) == []


def test_eval_source_of_a_file_and_of_a_builtin(tmp_path):
    (tmp_path / "e.txt").write_text("some words\n")
    source, name = eval_source(tmp_path / "e.txt")
    assert isinstance(source, TextSource)
    assert (source.read(), name) == ("some words\n", str(tmp_path / "e.txt"))
    text, name = eval_source("keywords", "valid")
    assert isinstance(text, str)
    assert name == "keywords (valid)"


def test_subwords_learn_from_a_bounded_sample_of_lines(tmp_path):
    lines = [f"{random.Random(k).choice(WORDS)} {k % 13}" for k in range(400)]
    a = train_tokenizer("bpe", iter(lines), vocab_size=40, input_sentence_size=150)
    b = train_tokenizer("bpe", "\n".join(lines), vocab_size=40, input_sentence_size=150)
    assert a.model == b.model  # seeded: the same sample, the same model
    whole = train_tokenizer("bpe", "\n".join(lines), vocab_size=40, input_sentence_size=400)
    every = train_tokenizer("bpe", "\n".join(lines), vocab_size=40, input_sentence_size=10_000)
    assert whole.vocabulary == every.vocabulary  # no sample while the lines fit
    with pytest.raises(UserError, match=r"^input_sentence_size: expected an integer above 100"):
        train_tokenizer("bpe", "a b\n", vocab_size=40, input_sentence_size=100)


def test_a_reader_error_during_subword_training_is_the_readers(tmp_path):
    def failing():
        yield "the cat sat\n" * 50
        raise UserError("data: the file changed while it was read")

    with pytest.raises(UserError, match=r"^data: the file changed while it was read$"):
        train_tokenizer("bpe", failing(), vocab_size=30)


def test_a_bad_byte_past_the_first_piece_is_one_line_naming_it(tmp_path, temp_root, capsys):
    path = tmp_path / "late.txt"
    good = corpus_text(30_000)  # 1.3 MB: the bad byte is in the second piece
    path.write_bytes(good.encode() + b"fine words \xe9t\n")
    line = good.count("\n") + 1
    out = tmp_path / "run"
    assert main(["lm", "train", "--data", str(path), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    where = f"{path}:{line}:12"
    assert err == f"lstmkit lm train: error: {where}: not UTF-8 (byte 0xe9); expected UTF-8 text\n"
    assert not out.exists()
    assert lstmkit_files(temp_root) == []
