"""Bad checkpoint input fails with an error naming the file, expected vs found and the fix;
a save that fails midway leaves nothing behind.

Every case runs on a 2-layer, 8-wide BERT with a 40-token vocabulary, written in each of the
three layouts `from_preset` reads: Google (`bert_model.ckpt`), HF (`model.safetensors`) and
our own preset (`model.weights.h5`).
"""

import json
import re
import warnings

import h5py
import numpy as np
import pytest
from safetensors.numpy import save_file

from keras_bert_suite import BertBackbone, WordPieceTokenizer
from keras_bert_suite.checkpoints.loading import load_backbone_weights
from keras_bert_suite.checkpoints.names import backbone_variables
from keras_bert_suite.presets import resolve_preset
from tests.helpers.google_checkpoint import google_names, write_tf1_checkpoint

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"word{i}" for i in range(35)]
CONFIG = {
    "vocab_size": 40, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
    "intermediate_size": 16, "max_position_embeddings": 16, "type_vocab_size": 2, "hidden_act": "gelu",
}
LAYOUTS = ("google", "huggingface", "keras")
# HF `nn.Linear` layers of one encoder block: [out, in].
BLOCK_LINEARS = {
    "attention.self.query": (8, 8), "attention.self.key": (8, 8), "attention.self.value": (8, 8),
    "attention.output.dense": (8, 8), "intermediate.dense": (16, 8), "output.dense": (8, 16),
}


def huggingface_weights():
    """Random float32 weights of the tiny BERT under HF base-model names."""
    shapes = {
        "embeddings.word_embeddings.weight": (40, 8), "embeddings.position_embeddings.weight": (16, 8),
        "embeddings.token_type_embeddings.weight": (2, 8), "embeddings.LayerNorm.weight": (8,),
        "embeddings.LayerNorm.bias": (8,), "pooler.dense.weight": (8, 8), "pooler.dense.bias": (8,),
    }
    for index in range(2):
        for linear, (rows, columns) in BLOCK_LINEARS.items():
            shapes[f"encoder.layer.{index}.{linear}.weight"] = (rows, columns)
            shapes[f"encoder.layer.{index}.{linear}.bias"] = (rows,)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[f"encoder.layer.{index}.{norm}.weight"] = shapes[f"encoder.layer.{index}.{norm}.bias"] = (8,)
    rng = np.random.default_rng(0)
    return {name: rng.normal(size=shape).astype(np.float32) for name, shape in shapes.items()}


HF_WEIGHTS = huggingface_weights()
GOOGLE_WEIGHTS = google_names(HF_WEIGHTS, num_layers=2)


def write_common(folder, config_name, config, vocabulary):
    folder.mkdir(parents=True)
    (folder / config_name).write_text(json.dumps(config))
    (folder / "vocab.txt").write_text("\n".join(vocabulary) + "\n")
    return folder


def write_google(folder, weights=GOOGLE_WEIGHTS, config=CONFIG, vocabulary=VOCABULARY):
    write_common(folder, "bert_config.json", config, vocabulary)
    write_tf1_checkpoint(folder / "bert_model.ckpt", weights)
    return folder


def write_huggingface(folder, weights=HF_WEIGHTS, config=CONFIG, vocabulary=VOCABULARY):
    write_common(folder, "config.json", config, vocabulary)
    save_file({name: np.ascontiguousarray(array) for name, array in weights.items()}, str(folder / "model.safetensors"))
    return folder


def write_keras(folder):
    backbone = BertBackbone.from_preset(write_huggingface(folder.with_name(f"{folder.name}_source")))
    backbone.save_to_preset(folder, tokenizer=WordPieceTokenizer(VOCABULARY, lowercase=True))
    return folder


WRITERS = {"google": write_google, "huggingface": write_huggingface, "keras": write_keras}


def write_preset(layout, tmp_path):
    """A complete, loadable preset folder of `layout`."""
    return WRITERS[layout](tmp_path / layout)


def edit_json(path, **changes):
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def cut_in_half(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def raised_by_our_code(error):
    """The error is raised in keras_bert_suite/checkpoints/, with no TF/h5py/safetensors error chained."""
    raised_in = error.traceback[-1].path.parent
    return (raised_in.parent.name, raised_in.name) == ("keras_bert_suite", "checkpoints") and (
        error.value.__suppress_context__
    )


# --- 1. A file missing from the folder --------------------------------------------------------


def test_google_folder_without_bert_config_names_it(tmp_path):
    folder = write_google(tmp_path / "google")
    (folder / "bert_config.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"looks like a google checkpoint but is missing bert_config\.json\."):
        BertBackbone.from_preset(folder)


@pytest.mark.parametrize(
    "layout, config_name, text, message",
    [
        ("google", "bert_config.json", '{"vocab_size": 40,', r"bert_config\.json is not valid JSON \(line 1: "),
        ("huggingface", "config.json", "[40, 8]", r"config\.json must hold a JSON object, found list\."),
        ("keras", "backbone_config.json", "", r"backbone_config\.json is not valid JSON \(line 1: "),
    ],
)
def test_malformed_config_file_is_named_with_the_json_error(tmp_path, layout, config_name, text, message):
    folder = write_preset(layout, tmp_path)
    (folder / config_name).write_text(text)
    with pytest.raises(ValueError, match=message):
        BertBackbone.from_preset(folder)


def test_google_checkpoint_without_its_data_shard_names_it(tmp_path):
    folder = write_google(tmp_path / "google")
    (folder / "bert_model.ckpt.data-00000-of-00001").unlink()
    message = (r"google/bert_model\.ckpt\.data-00000-of-00001 is missing: a TF checkpoint is its \.index "
               r"file plus its \.data-\* shard\(s\)\. Copy or download the whole checkpoint folder again\.")
    with pytest.raises(FileNotFoundError, match=message):
        BertBackbone.from_preset(folder)


@pytest.mark.parametrize(
    "layout, removed, message",
    [
        ("google", "bert_model.ckpt.index",
         r"No TF checkpoint in .*google: expected bert_model\.ckpt\.index .* "
         r"download the whole checkpoint folder again"),
        ("huggingface", "model.safetensors",
         r"huggingface has neither model\.safetensors nor pytorch_model\.bin: copy or download"),
        ("keras", "model.weights.h5",
         r"keras/model\.weights\.h5 is missing; the preset folder is incomplete\. Save it again"),
        ("google", "vocab.txt", r"google/vocab\.txt is missing: .* download the whole checkpoint folder again"),
        ("huggingface", "vocab.txt", r"huggingface/vocab\.txt is missing"),
        ("keras", "vocab.txt", r"keras/vocab\.txt is missing"),
    ],
)
def test_file_removed_after_resolving_is_named_at_load_time(tmp_path, layout, removed, message):
    resolved = resolve_preset(write_preset(layout, tmp_path))
    (resolved.folder / removed).unlink()
    backbone = BertBackbone(**resolved.config.backbone_kwargs())
    with pytest.raises(FileNotFoundError, match=message):
        load_backbone_weights(backbone, resolved)


# --- 2. Vocabulary size != embedding rows -------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("tokens", [37, 43])
def test_vocabulary_of_another_size_than_the_embedding_table(tmp_path, layout, tokens):
    folder = write_preset(layout, tmp_path)
    extra = [f"extra{i}" for i in range(max(0, tokens - 40))]
    (folder / "vocab.txt").write_text("\n".join((VOCABULARY + extra)[:tokens]) + "\n")
    message = (rf"{layout}/vocab\.txt has {tokens} tokens but the model's word-embedding table has 40 rows "
               r"\(vocab_size in the config\)\. .*use the vocab\.txt released with these weights\.")
    with pytest.raises(ValueError, match=message):
        BertBackbone.from_preset(folder)


@pytest.mark.parametrize(
    "layout, weight",
    [
        ("google", "bert/embeddings/word_embeddings"),
        ("huggingface", "embeddings.word_embeddings.weight"),
        ("keras", "layers/bert_embeddings/word_embeddings/vars/0"),
    ],
)
def test_vocabulary_and_config_agree_but_the_embedding_table_does_not(tmp_path, layout, weight):
    folder = write_preset(layout, tmp_path)
    (folder / "vocab.txt").write_text("\n".join(VOCABULARY[:37]) + "\n")
    if layout == "keras":
        edit_json(folder / "backbone_config.json", vocabulary_size=37)
    else:
        edit_json(folder / ("bert_config.json" if layout == "google" else "config.json"), vocab_size=37)
    with pytest.raises(ValueError, match=rf"{re.escape(weight)}: expected shape \(37, 8\), found \(40, 8\)"):
        BertBackbone.from_preset(folder)


# --- 3. A weight of the wrong shape -------------------------------------------------------------


def test_transposed_google_kernel_is_named_with_both_shapes(tmp_path):
    name = "bert/encoder/layer_1/intermediate/dense/kernel"
    folder = write_google(tmp_path / "google", weights={**GOOGLE_WEIGHTS, name: GOOGLE_WEIGHTS[name].T})
    message = (r"google/bert_model\.ckpt: weight shapes do not match the model config: "
               rf"{name}: expected shape \(8, 16\), found \(16, 8\)\. Check that the config file belongs")
    with pytest.raises(ValueError, match=message):
        BertBackbone.from_preset(folder)


def test_transposed_huggingface_weight_is_named_in_the_files_own_layout(tmp_path):
    name = "encoder.layer.1.intermediate.dense.weight"
    folder = write_huggingface(tmp_path / "huggingface", weights={**HF_WEIGHTS, name: HF_WEIGHTS[name].T})
    message = (r"huggingface/model\.safetensors: weight shapes do not match the model config: "
               rf"{re.escape(name)}: expected shape \(16, 8\), found \(8, 16\)\.")
    with pytest.raises(ValueError, match=message):
        BertBackbone.from_preset(folder)


@pytest.mark.parametrize(
    "layout, weight, expected, found",
    [
        ("google", "bert/encoder/layer_0/intermediate/dense/kernel", "(8, 12)", "(8, 16)"),
        ("huggingface", "encoder.layer.0.intermediate.dense.weight", "(12, 8)", "(16, 8)"),
        ("keras", "layers/bert_encoder_block/intermediate/vars/0", "(8, 12)", "(8, 16)"),
    ],
)
def test_config_of_another_width_names_the_weights_that_disagree(tmp_path, layout, weight, expected, found):
    folder = write_preset(layout, tmp_path)
    if layout == "keras":
        edit_json(folder / "backbone_config.json", intermediate_dim=12)
        fix = r"Save the preset again with save_to_preset .* or restore the backbone_config\.json"
    else:
        edit_json(folder / ("bert_config.json" if layout == "google" else "config.json"), intermediate_size=12)
        fix = r"Check that the config file belongs to these weights\."
    message = rf"{re.escape(weight)}: expected shape {re.escape(expected)}, found {re.escape(found)}.*{fix}"
    with pytest.raises(ValueError, match=message):
        BertBackbone.from_preset(folder)


# --- 4. A truncated checkpoint or weights file --------------------------------------------------


@pytest.mark.parametrize(
    "layout, cut, message",
    [
        ("google", "bert_model.ckpt.data-00000-of-00001",
         r"Could not read the TF checkpoint .*google/bert_model\.ckpt \(bert_model\.ckpt\.index, "
         r"bert_model\.ckpt\.data-00000-of-00001\): .*"
         r"The files are truncated or corrupt: download the checkpoint again\."),
        ("google", "bert_model.ckpt.index",
         r"Could not read the TF checkpoint .*google/bert_model\.ckpt .*"
         r"truncated or corrupt: download the checkpoint again\."),
        ("huggingface", "model.safetensors",
         r"Could not read .*huggingface/model\.safetensors: .*The file is truncated or corrupt: download it again\."),
        ("keras", "model.weights.h5",
         r"keras/model\.weights\.h5 is truncated or corrupt \(.*\)\. Save the preset again with "
         r"backbone\.save_to_preset\(\.\.\.\), or copy the file again\."),
    ],
)
def test_file_cut_in_half_is_called_truncated(tmp_path, layout, cut, message):
    folder = write_preset(layout, tmp_path)
    cut_in_half(folder / cut)
    with pytest.raises(ValueError, match=message) as error:
        BertBackbone.from_preset(folder)
    assert raised_by_our_code(error)


# --- 5. Missing and unexpected weight names -----------------------------------------------------


@pytest.mark.parametrize(
    "layout, message",
    [
        ("google", r"google/bert_model\.ckpt: 10 weight\(s\) the model needs are missing: "
                   r"bert/encoder/layer_1/attention/output/LayerNorm/beta, "
                   r".*bert/encoder/layer_1/attention/self/query/kernel"
                   r" \.\.\. \(2 more\)\. Use the config file released with these weights"),
        ("huggingface", r"huggingface/model\.safetensors: 10 weight\(s\) the model needs are missing: "
                        r"encoder\.layer\.1\.attention\.output\.LayerNorm\.bias, "
                        r".*encoder\.layer\.1\.attention\.self\.query\.weight"),
    ],
)
def test_checkpoint_without_layer_1_attention_lists_the_missing_names(tmp_path, layout, message):
    if layout == "google":
        weights = {name: array for name, array in GOOGLE_WEIGHTS.items() if "layer_1/attention" not in name}
    else:
        weights = {name: array for name, array in HF_WEIGHTS.items() if "layer.1.attention" not in name}
    folder = WRITERS[layout](tmp_path / layout, weights=weights)
    with pytest.raises(ValueError, match=message):
        BertBackbone.from_preset(folder)


def test_keras_weights_file_without_an_array_or_with_one_too_many_names_them(tmp_path):
    folder = write_preset("keras", tmp_path)
    with h5py.File(folder / "model.weights.h5", "r+") as file:
        del file["layers/bert_encoder_block_1/attention/query/vars/0"]
        file.copy("layers/bert_encoder_block_1/output_dense", "layers/bert_encoder_block_1/spare_dense")
    message = (r"keras/model\.weights\.h5 does not match .*keras/backbone_config\.json: "
               r"layers/bert_encoder_block_1/attention/query/vars/0: missing; "
               r"layers/bert_encoder_block_1/spare_dense/vars/0: unexpected; "
               r"layers/bert_encoder_block_1/spare_dense/vars/1: unexpected\. Save the preset again")
    with pytest.raises(ValueError, match=message):
        BertBackbone.from_preset(folder)


def test_keras_weights_file_with_a_layer_the_config_lacks_is_refused(tmp_path):
    folder = write_preset("keras", tmp_path)
    with h5py.File(folder / "model.weights.h5", "r+") as file:
        file.copy("layers/bert_encoder_block_1", "layers/bert_encoder_block_2")
    with pytest.raises(ValueError, match=r"layers/bert_encoder_block_2/attention/key/vars/0: unexpected; .*\(8 more\)"):
        BertBackbone.from_preset(folder)


@pytest.mark.parametrize(
    "layout, extra, reported",
    [
        ("google", {"bert/encoder/layer_0/attention/self/extra_scale": np.ones(8, np.float32)},
         "bert/encoder/layer_0/attention/self/extra_scale"),
        ("huggingface", {"encoder.layer.0.attention.self.extra_scale": np.ones(8, np.float32)},
         "encoder.layer.0.attention.self.extra_scale"),
    ],
)
def test_unknown_weight_is_reported_by_name_and_the_rest_loads(tmp_path, layout, extra, reported):
    weights = GOOGLE_WEIGHTS if layout == "google" else HF_WEIGHTS
    folder = WRITERS[layout](tmp_path / layout, weights={**weights, **extra})
    with pytest.warns(UserWarning, match=rf"weights not used by BertBackbone: {re.escape(reported)}\.$"):
        backbone = BertBackbone.from_preset(folder)
    loaded = backbone_variables(backbone)
    np.testing.assert_array_equal(loaded["bert/pooler/dense/kernel"], GOOGLE_WEIGHTS["bert/pooler/dense/kernel"])


def test_google_checkpoint_with_adam_slots_and_global_step_loads_silently(tmp_path):
    rng = np.random.default_rng(1)
    slots = {f"{name}/{slot}": rng.normal(size=array.shape).astype(np.float32)
             for name, array in GOOGLE_WEIGHTS.items() for slot in ("adam_m", "adam_v")}
    step = {"global_step": np.array(1000, np.int64)}
    folder = write_google(tmp_path / "google", weights={**GOOGLE_WEIGHTS, **slots, **step})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        backbone = BertBackbone.from_preset(folder)
    loaded = backbone_variables(backbone)
    assert set(loaded) == set(GOOGLE_WEIGHTS)
    for name, array in GOOGLE_WEIGHTS.items():
        np.testing.assert_array_equal(loaded[name], array, err_msg=name)


# --- 6. A failed save leaves nothing half-written -----------------------------------------------


def failing_writer(self, filepath, *args, **kwargs):
    """Writes the first bytes of a weights file, then fails as a full disk would."""
    with open(filepath, "wb") as file:
        file.write(b"\x89HDF\r\n\x1a\n")
    raise OSError(28, "No space left on device")


@pytest.fixture(scope="module")
def saved_backbone(tmp_path_factory):
    return BertBackbone.from_preset(write_huggingface(tmp_path_factory.mktemp("source") / "huggingface"))


def test_failed_save_leaves_no_folder_and_no_stray_files(tmp_path, monkeypatch, saved_backbone):
    monkeypatch.setattr(BertBackbone, "save_weights", failing_writer)
    with pytest.raises(OSError, match="No space left on device"):
        saved_backbone.save_to_preset(tmp_path / "preset", tokenizer=WordPieceTokenizer(VOCABULARY))
    assert list(tmp_path.iterdir()) == []


def test_failed_save_over_a_preset_keeps_the_old_one_whole(tmp_path, monkeypatch, saved_backbone):
    tokenizer = WordPieceTokenizer(VOCABULARY)
    saved_backbone.save_to_preset(tmp_path / "preset", tokenizer=tokenizer)
    before = {path.name: path.read_bytes() for path in (tmp_path / "preset").iterdir()}

    with monkeypatch.context() as patch:
        patch.setattr(BertBackbone, "save_weights", failing_writer)
        with pytest.raises(OSError, match="No space left on device"):
            saved_backbone.save_to_preset(tmp_path / "preset", tokenizer=tokenizer)
    assert [path.name for path in tmp_path.iterdir()] == ["preset"]
    assert {path.name: path.read_bytes() for path in (tmp_path / "preset").iterdir()} == before

    other = BertBackbone(vocabulary_size=40, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16,
                         max_sequence_length=16)
    other.save_to_preset(tmp_path / "preset", tokenizer=tokenizer)
    assert [path.name for path in tmp_path.iterdir()] == ["preset"]
    reloaded = backbone_variables(BertBackbone.from_preset(tmp_path / "preset"))
    np.testing.assert_array_equal(reloaded["bert/pooler/dense/bias"], np.zeros(8, np.float32))
    assert not np.array_equal(reloaded["bert/pooler/dense/kernel"], GOOGLE_WEIGHTS["bert/pooler/dense/kernel"])


def test_save_over_a_folder_that_is_no_preset_is_refused_untouched(tmp_path, saved_backbone):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    message = r"notes exists and is not a keras_bert_suite preset; choose another path"
    with pytest.raises(FileExistsError, match=message):
        saved_backbone.save_to_preset(tmp_path / "notes", tokenizer=WordPieceTokenizer(VOCABULARY))
    assert [path.name for path in (tmp_path / "notes").iterdir()] == ["todo.txt"]


def test_huggingface_head_checkpoint_without_pooler_loads_with_a_fresh_pooler(tmp_path):
    # BertForQuestionAnswering / ForTokenClassification save no pooler (add_pooling_layer=False).
    weights = {f"bert.{name}": array for name, array in HF_WEIGHTS.items() if not name.startswith("pooler.")}
    folder = write_huggingface(tmp_path / "qa", weights=weights)
    with pytest.warns(UserWarning, match=r"has no weights for bert/pooler/dense/bias, bert/pooler/dense/kernel"):
        backbone = BertBackbone.from_preset(folder)
    loaded = backbone_variables(backbone)
    np.testing.assert_array_equal(loaded["bert/encoder/layer_1/output/dense/kernel"],
                                  GOOGLE_WEIGHTS["bert/encoder/layer_1/output/dense/kernel"])
    np.testing.assert_array_equal(loaded["bert/pooler/dense/bias"], np.zeros(8, np.float32))
