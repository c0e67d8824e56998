"""BERT (Devlin et al. 2019) in MindSpore, with Hugging Face's parameter names.

A post-norm encoder: embeddings (word + position + token type, LayerNorm), blocks of self-attention
and a GELU MLP, each added back and normalised, and an optional [CLS] pooler. The heads follow
transformers' BertForMaskedLM, ...ForSequenceClassification, ...ForTokenClassification and
...ForQuestionAnswering; construct returns their outputs, or (loss, *outputs) with labels.
"""
import math

import mindspore as ms
from mindspore import nn, ops

from mf.modeling import PreTrainedModel
from mf.nn import DotProductAttention, Dropout, Embedding, LayerNorm, Linear, WeightMatMul, activation, \
    can_join, joint_linear, padding_mask_bias
from mf.nn.losses import TokenLoss

from .configuration import BertConfig


class BertEmbeddings(nn.Cell):
    def __init__(self, config: BertConfig):
        super().__init__()
        std = config.initializer_range
        self.word_embeddings = Embedding(config.vocab_size, config.hidden_size, init_std=std)
        self.position_embeddings = Embedding(config.seq_length, config.hidden_size, init_std=std)
        self.token_type_embeddings = Embedding(config.type_vocab_size, config.hidden_size, init_std=std)
        self.LayerNorm = LayerNorm(config.hidden_size, config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout)

    def construct(self, input_ids, token_type_ids):
        length = input_ids.shape[1]
        positions = ops.arange(0, length, dtype=ms.int32).reshape(1, length)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions) + \
            self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Cell):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.num_heads = config.num_heads
        self.head_dim = config.hidden_size // config.num_heads
        std = config.initializer_range
        self.query = Linear(config.hidden_size, config.hidden_size, init_std=std)
        self.key = Linear(config.hidden_size, config.hidden_size, init_std=std)
        self.value = Linear(config.hidden_size, config.hidden_size, init_std=std)
        self.attend = DotProductAttention(1.0 / math.sqrt(self.head_dim), Dropout(config.attention_dropout))

    def construct(self, x, bias):
        batch, length, _ = x.shape
        shape = (batch, length, self.num_heads, self.head_dim)
        projections = (self.query, self.key, self.value)
        if self.training and can_join(projections):  # one product, read in place by the attention kernel
            qkv = joint_linear(x, projections).reshape(batch, length, 3, self.num_heads, self.head_dim)
            return self.attend.packed(qkv, bias)
        return self.attend(self.query(x).reshape(shape), self.key(x).reshape(shape), self.value(x).reshape(shape),
                           bias)


class BertResidualOutput(nn.Cell):
    """LayerNorm(residual + dropout(dense(x))): the post-norm step after attention and after the MLP."""

    def __init__(self, config: BertConfig, width: int):
        super().__init__()
        self.dense = Linear(width, config.hidden_size, init_std=config.initializer_range)
        self.LayerNorm = LayerNorm(config.hidden_size, config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout)

    def construct(self, x, residual):
        return self.LayerNorm(residual + self.dropout(self.dense(x)))


class BertAttention(nn.Cell):
    def __init__(self, config: BertConfig):
        super().__init__()
        setattr(self, "self", BertSelfAttention(config))  # Hugging Face names it "self"
        self.output = BertResidualOutput(config, config.hidden_size)

    def construct(self, x, bias):
        return self.output(getattr(self, "self")(x, bias), x)


class BertIntermediate(nn.Cell):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.intermediate_size, init_std=config.initializer_range)
        self.act = activation(config.hidden_act)

    def construct(self, x):
        return self.act(self.dense(x))


class BertLayer(nn.Cell):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertResidualOutput(config, config.intermediate_size)

    def construct(self, x, bias):
        x = self.attention(x, bias)
        return self.output(self.intermediate(x), x)


class BertEncoder(nn.Cell):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.CellList([BertLayer(config) for _ in range(config.num_layers)])

    def construct(self, x, bias):
        for block in self.layer:
            x = block(x, bias)
        return x


class BertPooler(nn.Cell):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size, init_std=config.initializer_range)

    def construct(self, hidden):
        return ops.tanh(self.dense(hidden[:, 0]))


class BertPreTrainedModel(PreTrainedModel):
    config_class = BertConfig
    base_model_prefix = "bert"


class BertModel(BertPreTrainedModel):
    """The encoder: (hidden states [B, T, H], pooled [CLS] [B, H]); with add_pooling_layer=False, hidden states."""

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None

    def construct(self, input_ids, attention_mask=None, token_type_ids=None):
        if token_type_ids is None:
            token_type_ids = ops.zeros_like(input_ids)
        batch, length = input_ids.shape
        if attention_mask is None:
            attention_mask = ops.ones((batch, length), ms.float32)
        # every query row sees the same keys: the padding bias, spelt out per query for the fused kernel
        bias = padding_mask_bias(attention_mask) + ops.zeros((1, 1, length, length), ms.float32)
        hidden = self.encoder(self.embeddings(input_ids, token_type_ids), bias)
        if self.pooler is None:
            return hidden
        return hidden, self.pooler(hidden)


class BertPredictionHead(nn.Cell):
    """cls.predictions: dense + act + LayerNorm, then the word embeddings (tied) and a bias."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.transform = BertPredictionTransform(config)
        self.bias = ms.Parameter(ms.numpy.zeros((config.vocab_size,), ms.float32), name="bias")
        self.decoder = WeightMatMul()

    def construct(self, hidden, word_embeddings):
        batch, length, width = hidden.shape
        logits = self.decoder(self.transform(hidden).reshape(-1, width), word_embeddings) + self.bias
        return logits.reshape(batch, length, -1)


class BertPredictionTransform(nn.Cell):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size, init_std=config.initializer_range)
        self.act = activation(config.hidden_act)
        self.LayerNorm = LayerNorm(config.hidden_size, config.layer_norm_eps)

    def construct(self, x):
        return self.LayerNorm(self.act(self.dense(x)))


class BertOnlyMLMHead(nn.Cell):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.predictions = BertPredictionHead(config)

    def construct(self, hidden, word_embeddings):
        return self.predictions(hidden, word_embeddings)


class BertForMaskedLM(BertPreTrainedModel):
    """Masked-token logits [B, T, vocab]; labels [B, T] with -100 where no token is predicted."""

    ignore_on_load = (r"^bert\.pooler\.", r"^cls\.seq_relationship\.")
    new_on_load = (r"^cls\.predictions\.",)  # an encoder-only checkpoint (a sentence encoder) gets a new MLM head

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)
        self.token_loss = TokenLoss()

    def construct(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        hidden = self.bert(input_ids, attention_mask, token_type_ids)
        logits = self.cls(hidden, self.bert.embeddings.word_embeddings.weight)
        if labels is None:
            return logits
        return self.token_loss(logits, labels), logits


class BertPreTrainingHeads(nn.Cell):
    """cls: the masked-LM head and the next-sentence classifier on the pooled [CLS]."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.predictions = BertPredictionHead(config)
        self.seq_relationship = Linear(config.hidden_size, 2, init_std=config.initializer_range)

    def construct(self, hidden, pooled, word_embeddings):
        return self.predictions(hidden, word_embeddings), self.seq_relationship(pooled)


class BertForPreTraining(BertPreTrainedModel):
    """BERT's pre-training: masked-token logits [B, T, vocab] and is-next-sentence logits [B, 2]; the loss is
    the sum of the masked-LM and next-sentence cross entropies (labels [B, T], next_sentence_label [B])."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config)
        self.cls = BertPreTrainingHeads(config)
        self.token_loss = TokenLoss()

    def construct(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, next_sentence_label=None):
        hidden, pooled = self.bert(input_ids, attention_mask, token_type_ids)
        prediction_logits, relationship_logits = self.cls(hidden, pooled, self.bert.embeddings.word_embeddings.weight)
        if labels is None or next_sentence_label is None:
            return prediction_logits, relationship_logits
        loss = self.token_loss(prediction_logits, labels) + \
            self.token_loss(relationship_logits, next_sentence_label)
        return loss, prediction_logits, relationship_logits


class _BertClassifier(BertPreTrainedModel):
    """Dropout and a linear classifier over BERT's features: the pooled [CLS] (per_token False) or every
    token (per_token True); labels -100 are skipped."""

    per_token = False

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=not self.per_token)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout
        self.dropout = Dropout(dropout)
        self.classifier = Linear(config.hidden_size, config.num_labels, init_std=config.initializer_range)
        self.token_loss = TokenLoss()

    def construct(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        features = self.bert(input_ids, attention_mask, token_type_ids)
        if not self.per_token:
            features = features[1]  # the pooled [CLS]
        logits = self.classifier(self.dropout(features))
        if labels is None:
            return logits
        return self.token_loss(logits, labels), logits


class BertForSequenceClassification(_BertClassifier):
    """Logits [B, num_labels] from the pooled [CLS]; labels [B]."""

    ignore_on_load = (r"^cls\.",)
    new_on_load = (r"^classifier\.", r"^bert\.pooler\.")  # masked-LM checkpoints have no pooler


class BertForTokenClassification(_BertClassifier):
    """Logits [B, T, num_labels]; labels [B, T] with -100 on tokens that carry no label."""

    per_token = True
    ignore_on_load = (r"^bert\.pooler\.", r"^cls\.")
    new_on_load = (r"^classifier\.",)


class BertForQuestionAnswering(BertPreTrainedModel):
    """(start_logits [B, T], end_logits [B, T]); the loss is the mean of the two span cross entropies."""

    ignore_on_load = (r"^bert\.pooler\.", r"^cls\.")
    new_on_load = (r"^qa_outputs\.",)

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.qa_outputs = Linear(config.hidden_size, 2, init_std=config.initializer_range)
        self.token_loss = TokenLoss()

    def construct(self, input_ids, attention_mask=None, token_type_ids=None, start_positions=None,
                  end_positions=None):
        logits = self.qa_outputs(self.bert(input_ids, attention_mask, token_type_ids))
        start_logits, end_logits = logits[:, :, 0], logits[:, :, 1]
        if start_positions is None or end_positions is None:
            return start_logits, end_logits
        loss = (self.token_loss(start_logits, start_positions) +
                self.token_loss(end_logits, end_positions)) / 2
        return loss, start_logits, end_logits
