"""The answer sheet's words in each language it is written in: English (the default) and Chinese (``--lang zh``).

Every phrase is written in English where the sheet uses it, as a ``str.format``
template whose fields are LaTeX already (``say(r"Residual of ${node}$", lang,
node=...)``); :data:`ZH` maps each English phrase to its Chinese template. A
phrase missing from a language's table is an error naming it (a test renders
every shipped network's sheet in every language), never English text in a
Chinese sheet. The one exception is what a user's own layer brings (its title):
no table can know it, so :func:`title_in` keeps it as written.

The Chinese sheet is compiled by pdfLaTeX with the CJK package (``CJKutf8``,
the Arphic *gbsn* font: Debian's ``latex-cjk-chinese`` and
``latex-cjk-chinese-arphic-gbsn00lp``): :data:`PREAMBLES` and :data:`BODIES`.

>>> say("chain rule", "zh")
'链式法则'
>>> say(r"Residual of ${node}$", "en", node="z")
'Residual of $z$'
"""
from __future__ import annotations

LANGUAGES = ("en", "zh")

PREAMBLES = {"en": "", "zh": r"\usepackage{CJKutf8}"}
BODIES = {"en": ("", ""), "zh": (r"\begin{CJK}{UTF8}{gbsn}", r"\end{CJK}")}

NOTATION = (r"A mini-batch has $m$ samples. Fixed letters: $i, j$ index samples, $u, v, w$ index features, $k, l$ "
            r"are summation indices; sums run from 1. $[P]$ is 1 if the statement $P$ is true and 0 otherwise "
            r"(Iverson's bracket): $[u = v]$ is Kronecker's delta and $[z > 0]$ the derivative of ReLU (0 at 0). "
            r"The letter $\delta$ is kept for residuals: $\delta_{{N}} = \partial L / \partial N$. In vector form "
            r"every formula is per sample, vectors are columns, $\odot$ is the elementwise product (quotients, "
            r"powers and functions of vectors are elementwise too), $\oplus$ is concatenation, $a^{{(i)}}$ is the "
            r"vector of sample $i$ and $a_{{p:q}}$ the components $p$ to $q$ of $a$.")
BACKWARD = (r"The residual (error signal) of a node $N$ is $\delta_{{N}} = \partial L / \partial N$. It is the sum, "
            r"over every path from $N$ towards the loss, of the upstream residual $\delta_{{C}}$ of the consumer $C$ "
            r"times the local Jacobian $\partial C / \partial N$ (summed over the consumer's outputs). The nodes are "
            r"visited in reverse order: {order}.")
GRADIENTS = (r"Each gradient sums the per-sample terms over the batch ($\sum_{{i=1}}^{{m}}$); in matrix form "
             r"$\delta\, x^{{\top}}$ is the outer product of a column residual and a row input.")
DROPOUT = (r"$M$ is the keep-mask: for each unit a uniform $r_{{iu}} \in [0, 1)$ is drawn and "
           r"$M_{{iu}} = [r_{{iu}} \geq p]$, so $p$ is the probability of dropping the unit.")
ONE_HOT = r"$y$ is one-hot: $\sum_{{k=1}}^{{n}} y_{{ik}} = 1$ for every sample $i$."

ZH = {
    # the template's headings and paragraphs
    r"Answer sheet: gradients of the network \texttt{{{network}}}": r"答题纸：网络 \texttt{{{network}}} 的梯度",
    "derived and typeset by symderiv": "由 symderiv 推导并排版",
    "Notation.": "记号。",
    NOTATION: (r"一个小批次有 $m$ 个样本。固定的字母：$i, j$ 表示样本下标，$u, v, w$ 表示特征下标，$k, l$ 为求和下标；"
               r"求和从 1 开始。$[P]$ 在命题 $P$ 成立时为 1，否则为 0（艾弗森括号）：$[u = v]$ 即克罗内克 delta，"
               r"$[z > 0]$ 是 ReLU 的导数（在 0 处取 0）。字母 $\delta$ 只用于残差：$\delta_{{N}} = \partial L / "
               r"\partial N$。向量形式中每个公式都针对单个样本，向量为列向量，$\odot$ 为逐元素乘积（向量的商、幂和函数"
               r"也逐元素计算），$\oplus$ 为拼接，$a^{{(i)}}$ 为样本 $i$ 的向量，$a_{{p:q}}$ 为 $a$ 的第 $p$ 到第 $q$ "
               r"个分量。"),
    "Block One: the layers of the network": "第一部分：网络的各层",
    ("Each kind of layer the network uses, with its forward definition and its derivatives, derived through the "
     "layer's named intermediates by the chain rule."):
        "网络用到的每一种层：它的前向定义，以及经由该层的命名中间量、按链式法则逐步推导出的导数。",
    "Forward definition.": "前向定义。",
    r"Derivative of ${of}$ with respect to the parameter ${wrt}$:": r"${of}$ 对参数 ${wrt}$ 的导数：",
    r"Derivative of ${of}$ with respect to the input ${wrt}$:": r"${of}$ 对输入 ${wrt}$ 的导数：",
    "Case by case:": "分情况：",
    r"Block Two: the network \texttt{{{network}}}": r"第二部分：网络 \texttt{{{network}}}",
    "Inputs:": "输入：",
    "Parameters:": "参数：",
    "Constants:": "常数：",
    "(i) Forward computations": "(i) 前向计算",
    r"For a batch, in index form (sample $i$, feature $u$):": r"对一个批次，用下标形式（样本 $i$，特征 $u$）：",
    "The same per sample, in vector form:": "同样的计算，对每个样本用向量形式：",
    "(ii) Backward pass": "(ii) 反向传播",
    BACKWARD: (r"节点 $N$ 的残差（误差信号）为 $\delta_{{N}} = \partial L / \partial N$。它是从 $N$ 通向损失的每条路径上，"
               r"使用者 $C$ 的上游残差 $\delta_{{C}}$ 与局部雅可比矩阵 $\partial C / \partial N$ 之积（对使用者的各输出"
               r"求和）的总和。节点按逆序访问：{order}。"),
    r"Residual of ${node}$": r"${node}$ 的残差",
    "Per sample, in vector form:": "对每个样本，用向量形式：",
    "Gradients of the parameters": "参数的梯度",
    GRADIENTS: (r"每个梯度都把各样本的项在批次上求和（$\sum_{{i=1}}^{{m}}$）；矩阵形式中 $\delta\, x^{{\top}}$ 是列向量残差"
                r"与行向量输入的外积。"),
    r"Gradient of ${param}$": r"${param}$ 的梯度",
    "In index form (the chain rule through the layer that uses it), then in matrix form:":
        "先用下标形式（经由使用它的层的链式法则），再用矩阵形式：",
    # Block Two's notes
    "substituting the residual found above": "代入上面求得的残差",
    "substituting the residuals found above": "代入上面求得的各残差",
    r"since ${sum} = 1$": r"因为 ${sum} = 1$",
    r"${name}$ is one-hot (each sample's row sums to one); this is used where ${sum} = 1$ is marked.":
        r"${name}$ 是 one-hot 编码（每个样本的行之和为一）；标注 ${sum} = 1$ 之处用到了这一点。",
    "the weight of this term in the loss": "该项在损失中的权重",
    "chain rule": "链式法则",
    "chain rule, over every path": "链式法则，对每条路径求和",
    r"through ${node}$ ({layer}, Block One)": r"${node}$（{layer}，见第一部分）",
    r"${node}$ is used only {paths}.": r"${node}$ 只被 {paths} 使用。",
    r"${node}$ is used {paths}.": r"${node}$ 被 {paths} 使用。",
    " and ": " 和 ",
    (r"${node}$ reaches the loss along {count} paths; a small change of it changes the loss along each of them, so "
     r"its residual is the sum of the contributions of all of them."):
        r"${node}$ 沿 {count} 条路径影响损失；它的微小变化沿每条路径都会改变损失，因此它的残差是所有路径贡献之和。",
    (r"The concatenation ${consumer}$ has ${size}$ features; ${node}$ receives only the components of "
     r"$\delta_{{{consumer}}}$ that belong to it, ${part}$ (in index form, for $u = 1, \dots, {length}$)."):
        (r"拼接 ${consumer}$ 有 ${size}$ 个特征；${node}$ 只接收 $\delta_{{{consumer}}}$ 中属于它的分量 ${part}$"
         r"（下标形式，$u = 1, \dots, {length}$）。"),
    "{layer}, Block One": "{layer}，见第一部分",
    # Block One's notes and steps
    DROPOUT: (r"$M$ 为保留掩码：对每个单元抽取均匀分布的 $r_{{iu}} \in [0, 1)$，令 $M_{{iu}} = [r_{{iu}} \geq p]$，"
              r"因此 $p$ 是丢弃该单元的概率。"),
    ONE_HOT: r"$y$ 为 one-hot 编码：对每个样本 $i$，$\sum_{{k=1}}^{{n}} y_{{ik}} = 1$。",
    r"${size}$ is the number of samples": r"${size}$ 为样本数",
    r"${size}$ is the number of features of ${array}$": r"${size}$ 为 ${array}$ 的特征数",
    r"${size}$ is the length of axis {axis} of ${array}$": r"${size}$ 为 ${array}$ 第 {axis} 维的长度",
    r"axis {axis} of ${array}$ has length ${length}$": r"${array}$ 第 {axis} 维的长度为 ${length}$",
    "Sizes: {parts}.": "尺寸：{parts}。",
    "; ": "；",
    "quotient rule, ": "商法则，",
    "a sum of centred values is zero": "中心化值之和为零",
    "writing ": "记 ",
    "if ": "若 ",
    "otherwise": "其他情况",
    (r"Different samples do not interact (the bracket of their indices is a factor), so for one sample, with $j$ the "
     r"output and $i$ the input position, in the homework's notation:"):
        r"不同样本之间互不影响（它们下标的方括号是一个因子），因此对一个样本，以 $j$ 为输出位置、$i$ 为输入位置，用作业的记号：",
    (r"Different features do not interact (the bracket of their indices is a factor), so for one feature, with $j$ "
     r"the output and $i$ the input position, in the homework's notation:"):
        r"不同特征之间互不影响（它们下标的方括号是一个因子），因此对一个特征，以 $j$ 为输出位置、$i$ 为输入位置，用作业的记号：",
    "The layer {words} (a layer of this network's own)": "层 {words}（本网络自定义的层）",
    # the shipped layers' titles
    "ReLU": "ReLU",
    "Hyperbolic tangent": "双曲正切",
    "Logistic sigmoid": "Logistic sigmoid 函数",
    "GELU (exact, through erf)": "GELU（精确形式，经由 erf）",
    "SiLU (swish)": "SiLU（swish）",
    "Softplus": "Softplus",
    "Leaky ReLU": "Leaky ReLU",
    "Batch normalization (training mode)": "批归一化（训练模式）",
    "Concatenation": "拼接",
    "Inverted dropout": "反向 dropout（inverted dropout）",
    "Fully connected layer": "全连接层",
    "Squared-error loss": "平方误差损失",
    "Cross-entropy loss": "交叉熵损失",
    "Log-softmax": "Log-softmax",
    "Negative log-likelihood loss": "负对数似然损失",
    "Binary cross-entropy on logits": "基于 logits 的二元交叉熵",
    "L2 penalty (weight decay)": "L2 惩罚（权重衰减）",
    "Layer normalization": "层归一化",
    "RMS normalization": "RMS 归一化",
    "Single-head self-attention": "单头自注意力",
    "Mean pooling over the tokens": "对词元的平均池化",
    "Softmax": "Softmax",
    "Sum (residual connection)": "求和（残差连接）",
    "Elementwise product (gating)": "逐元素乘积（门控）",
    "Matrix product (linear layer without bias)": "矩阵乘积（无偏置的线性层）",
    "Two-dimensional convolution": "二维卷积",
    "Max pooling (2-by-2 windows, stride 2)": "最大池化（2×2 窗口，步长 2）",
    "Flattening": "展平",
}

TABLES = {"en": None, "zh": ZH}


def say(phrase: str, lang: str, **fields) -> str:
    """``phrase`` (an English ``str.format`` template) in ``lang``, with ``fields`` filled in."""
    if lang not in TABLES:
        raise ValueError(f"no sheet language {lang!r}; languages: {', '.join(LANGUAGES)}")
    table = TABLES[lang]
    if table is not None:
        if phrase not in table:
            raise KeyError(f"the sheet has no {lang} words for {phrase!r}")
        phrase = table[phrase]
    return phrase.format(**fields) if fields else phrase.format()


def title_in(title: str, lang: str) -> str:
    """A layer's title in ``lang``: the table's words for a shipped layer, a user layer's own title as written."""
    table = TABLES.get(lang)
    return title if table is None else table.get(title, title)


def template_words(network: str, order: list, lang: str) -> dict:
    """The template's headings and paragraphs in ``lang`` (``order``: the nodes' LaTeX names, forward order)."""
    from symderiv.emitting.latex_env import Latex, escape_latex  # here: the command line imports this table, not jinja2
    name = escape_latex(network)
    plain = {"author": "derived and typeset by symderiv", "notation_heading": "Notation.", "notation": NOTATION,
             "block_one": "Block One: the layers of the network",
             "block_one_intro": "Each kind of layer the network uses, with its forward definition and its "
                                "derivatives, derived through the layer's named intermediates by the chain rule.",
             "forward_definition": "Forward definition.", "case_by_case": "Case by case:", "inputs": "Inputs:",
             "parameters": "Parameters:", "constants": "Constants:", "forward": "(i) Forward computations",
             "forward_index": r"For a batch, in index form (sample $i$, feature $u$):",
             "forward_vector": "The same per sample, in vector form:", "backward": "(ii) Backward pass",
             "per_sample": "Per sample, in vector form:", "gradients": "Gradients of the parameters",
             "gradients_intro": GRADIENTS,
             "gradient_forms": "In index form (the chain rule through the layer that uses it), then in matrix form:"}
    words = {key: Latex(say(text, lang)) for key, text in plain.items()}
    words["title"] = Latex(say(r"Answer sheet: gradients of the network \texttt{{{network}}}", lang, network=name))
    words["block_two"] = Latex(say(r"Block Two: the network \texttt{{{network}}}", lang, network=name))
    words["backward_intro"] = Latex(say(BACKWARD, lang, order=", ".join(f"${n}$" for n in reversed(order))))
    words["preamble"], (words["begin"], words["end"]) = Latex(PREAMBLES[lang]), map(Latex, BODIES[lang])
    return words
