"""Builders of tiny, randomly initialised checkpoints for the model-adapter tests (all offline).

Each builder writes a folder that the adapters load through their real ``from_pretrained`` code:
- Qwen2-VL (DSE), ColQwen2, ColPali, SigLIP and XLM-RoBERTa (BGE-M3) from their transformers configs,
  with tokenizers trained here on a few sentences (the ``tokenizers`` library) so nothing is downloaded;
- fake remote-code folders (``config.json`` with ``auto_map``) whose code lives in ``tests/fake_remote``
  and follows the documented ``encode_*`` APIs of jina-embeddings-v4/v3 and jina-clip-v2.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

FAKE_REMOTE = Path(__file__).parent / "fake_remote"
CORPUS = [
    "Query: what is shown in this image? You are a helpful assistant.",
    "Question: Describe the image. system user assistant revenue table chart 2023",
    "Represent the query for retrieving evidence documents: the quick brown fox",
]
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                 "<|image_pad|>", "<|video_pad|>"]


def _bpe(specials: list[str], vocab_size: int = 320):
    """A byte-level BPE ``tokenizers.Tokenizer`` trained on :data:`CORPUS`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def _seeded(build):
    torch.manual_seed(0)
    return build().eval()


# --------------------------------------------------------------------------------------------------
# Qwen2-VL family
# --------------------------------------------------------------------------------------------------


def qwen_tokenizer():
    from transformers import Qwen2TokenizerFast

    return Qwen2TokenizerFast(tokenizer_object=_bpe(QWEN_SPECIALS), unk_token=None, bos_token=None,
                              eos_token="<|im_end|>", pad_token="<|endoftext|>")


def qwen_image_processor(max_pixels: int = 28 * 28 * 16):
    from transformers import Qwen2VLImageProcessor

    return Qwen2VLImageProcessor(min_pixels=28 * 28, max_pixels=max_pixels)


def qwen2vl_config(tokenizer):
    from transformers import Qwen2VLConfig

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIALS}
    return Qwen2VLConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024,
                         rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}, tie_word_embeddings=True),
        vision_config=dict(depth=1, embed_dim=16, hidden_size=32, num_heads=2, mlp_ratio=2, patch_size=14,
                           spatial_merge_size=2, temporal_patch_size=2, in_channels=3),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )


def build_qwen2vl(path: Path) -> Path:
    """A Qwen2-VL checkpoint with tokenizer and (slow) image processor, as DSE loads it."""
    from transformers import Qwen2VLForConditionalGeneration

    tokenizer = qwen_tokenizer()
    config = qwen2vl_config(tokenizer)
    _seeded(lambda: Qwen2VLForConditionalGeneration(config)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    qwen_image_processor().save_pretrained(path)
    return path


def build_colqwen2(path: Path) -> Path:
    from transformers import ColQwen2Config, ColQwen2ForRetrieval, ColQwen2Processor

    tokenizer = qwen_tokenizer()
    config = ColQwen2Config(vlm_config=qwen2vl_config(tokenizer).to_dict(), embedding_dim=16)
    _seeded(lambda: ColQwen2ForRetrieval(config)).save_pretrained(path)
    ColQwen2Processor(image_processor=qwen_image_processor(), tokenizer=tokenizer).save_pretrained(path)
    return path


def build_colpali(path: Path) -> Path:
    """ColPali: PaliGemma (tiny SigLIP vision tower + Gemma) with a 28 x 28 image, 4 image tokens."""
    from transformers import (
        ColPaliConfig,
        ColPaliForRetrieval,
        ColPaliProcessor,
        GemmaTokenizerFast,
        PaliGemmaConfig,
        SiglipImageProcessor,
    )

    tokenizer = GemmaTokenizerFast(tokenizer_object=_bpe(["<pad>", "<eos>", "<bos>", "<unk>"]), bos_token="<bos>",
                                   eos_token="<eos>", pad_token="<pad>", unk_token="<unk>")
    image_processor = SiglipImageProcessor(size={"height": 28, "width": 28}, image_seq_length=4)
    processor = ColPaliProcessor(image_processor=image_processor, tokenizer=tokenizer)
    vlm = PaliGemmaConfig(
        vision_config=dict(model_type="siglip_vision_model", hidden_size=16, intermediate_size=32,
                           num_hidden_layers=1, num_attention_heads=2, image_size=28, patch_size=14,
                           projection_dim=32),
        text_config=dict(model_type="gemma", vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, head_dim=16),
        projection_dim=32, hidden_size=32, image_token_index=processor.image_token_id,
    )
    config = ColPaliConfig(vlm_config=vlm.to_dict(), embedding_dim=16)
    _seeded(lambda: ColPaliForRetrieval(config)).save_pretrained(path)
    processor.save_pretrained(path)
    return path


# --------------------------------------------------------------------------------------------------
# SigLIP, XLM-RoBERTa
# --------------------------------------------------------------------------------------------------


def build_siglip(path: Path) -> Path:
    from transformers import PreTrainedTokenizerFast, SiglipConfig, SiglipImageProcessor, SiglipModel

    tokenizer = PreTrainedTokenizerFast(tokenizer_object=_bpe(["<pad>", "</s>", "<unk>"]), pad_token="<pad>",
                                        eos_token="</s>", unk_token="<unk>", model_max_length=16)
    config = SiglipConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=16, pad_token_id=tokenizer.pad_token_id),
        vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                           image_size=28, patch_size=14),
    )
    _seeded(lambda: SiglipModel(config)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    SiglipImageProcessor(size={"height": 28, "width": 28}).save_pretrained(path)
    return path


def build_xlmr(path: Path) -> Path:
    """An XLM-RoBERTa encoder with a tokenizer that wraps texts in ``<s> ... </s>`` like BGE-M3's."""
    from tokenizers.processors import TemplateProcessing
    from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast

    raw = _bpe(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    raw.post_processor = TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                            special_tokens=[("<s>", 0), ("</s>", 2)])
    tokenizer = XLMRobertaTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", cls_token="<s>",
                                        sep_token="</s>", pad_token="<pad>", unk_token="<unk>", mask_token="<mask>")
    config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                              num_attention_heads=2, max_position_embeddings=130, pad_token_id=1, type_vocab_size=1)
    _seeded(lambda: XLMRobertaModel(config, add_pooling_layer=False)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


# --------------------------------------------------------------------------------------------------
# Fake remote code
# --------------------------------------------------------------------------------------------------


def build_fake_remote(path: Path, model_class: str, **config: object) -> Path:
    """A remote-code folder: ``config.json`` whose ``auto_map`` names ``modeling_fake_jina.<model_class>``,
    the two code files, and seeded weights saved by the class itself."""
    from transformers import AutoConfig
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    path.mkdir(parents=True, exist_ok=True)
    for name in ("configuration_fake_jina.py", "modeling_fake_jina.py"):
        shutil.copy(FAKE_REMOTE / name, path / name)
    auto_map = {"AutoConfig": "configuration_fake_jina.FakeJinaConfig",
                "AutoModel": f"modeling_fake_jina.{model_class}"}
    (path / "config.json").write_text(json.dumps({"model_type": "fake_jina", "auto_map": auto_map, **config}))
    cls = get_class_from_dynamic_module(f"modeling_fake_jina.{model_class}", str(path))
    cfg = AutoConfig.from_pretrained(path, trust_remote_code=True)
    _seeded(lambda: cls(cfg)).save_pretrained(path)
    saved = json.loads((path / "config.json").read_text())
    assert saved.get("auto_map") == auto_map, saved
    return path
