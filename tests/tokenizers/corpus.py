"""A varied, deterministic test corpus (>= 500 strings) for the WordPiece tokenizer.

Hand-written sentences covering every rule of Google's BasicTokenizer (scripts, accents,
CJK, final sigma, Turkish dotted I, control and zero-width characters, exotic spaces,
punctuation of many scripts, math symbols, typed special tokens, over-long words, URLs,
numbers), then seeded random mixtures of the same material, so rules meet each other,
and seeded strings of random code points from all of Unicode.

Example:
    >>> strings = build_corpus()
    >>> len(strings) >= 500
    True
"""

import random

SENTENCES = [
    # ASCII prose, casing, numbers, URLs.
    "Hello, World!",
    "The quick brown fox jumps over the lazy dog.",
    "BERT stands for Bidirectional Encoder Representations from Transformers.",
    "I can't believe it's not butter!",
    "He said: \"Don't do that,\" and left.",
    "Prices rose 3.5% to $1,234.56 in Q3 2019 (vs. $999.99).",
    "Call me at +1 (555) 010-9999 or e-mail jane.doe@example.com.",
    "See https://github.com/google-research/bert/blob/master/tokenization.py#L100 for details.",
    "http://www.example.org/path?query=a+b&x=1#frag",
    "UNAFFABLE unaffable Unaffable unAffAble",
    "the   spaces\tand\ttabs\nand\r\nnewlines",
    "   leading and trailing   ",
    "",
    " ",
    "\t\n\r",
    "a",
    "A",
    "1234567890",
    "3.14159 2.71828 1e-10 0x1F 0b1010",
    "snake_case camelCase kebab-case PascalCase SCREAMING_CASE",
    "C++ C# F# .NET node.js Objective-C",
    "#hashtag @mention ~tilde ^caret `backtick` |pipe| \\backslash\\",
    "!!!???...,,,;;;:::",
    "<html><body class=\"x\">Hi</body></html>",
    "{\"key\": [1, 2, {\"nested\": null}]}",
    "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "Supercalifragilisticexpialidocious!",
    "1st 2nd 3rd 4th 21st 100th",
    "mr. smith's dog's bone; the dogs' bones",
    "e.g. i.e. etc. a.m. p.m. U.S.A.",
    # Typed special tokens are plain text.
    "[CLS] hello [SEP] world [SEP]",
    "[MASK]",
    "[PAD][UNK][CLS]",
    "The capital of France is [MASK].",
    "[cls] [Sep] [unused0] <s> </s> <mask>",
    # Accents and diacritics.
    "naïve café résumé",
    "Crème brûlée à la mode",
    "Ångström Øresund Æsir Þórr",
    "Dvořák Škoda Łódź Gdańsk Kraków",
    "São Paulo, Açores, Coração",
    "Mañana, niño, España",
    "Zürich, Köln, Straße, GROSSE STRASSE",
    "Hrvatska: čćđšž ČĆĐŠŽ",
    "Tiếng Việt có dấu: Hà Nội, Thành phố Hồ Chí Minh",
    "Ελληνικά: Ἀθῆναι, ᾯ, ῥ",
    "Română: țară, șir, Țară, Șir",
    "Íslenska: Þetta er ævintýri",
    "e\u0301 combining acute, a\u0308 combining diaeresis, n\u0303",
    "\u0301\u0302 marks alone",
    "x\u0301\u0323\u0302 stacked marks",
    "ﬁ ﬂ ﬀ ligatures and ｆｕｌｌ ｗｉｄｔｈ and ① ² ½",
    "Ǆ ǅ ǆ titlecase digraphs",
    # Greek final sigma and Turkish dotted I.
    "ΟΔΟΣ",
    "ΟΔΟΣ ΣΑΣ ΣΟΦΟΣ",
    "ΟΔΟΣ. ΣΑΣ, Σ",
    "ὈΔΥΣΣΕΎΣ",
    "ΑΣ\u0301 ΑΣ'Β ΑΣ.Β ΑΣ,Β",
    "Σ ΣΣ ΑΣΑ Α.Σ",
    "İstanbul, İZMİR, ıiIİ",
    "DİYARBAKIR ŞANLIURFA ığdır",
    # CJK, Hangul, Kana.
    "中文分词测试：我爱北京天安门。",
    "日本語のテキスト、カタカナとひらがな。",
    "한국어 텍스트입니다. 안녕하세요!",
    "漢字かな交じり文",
    "ＡＢＣ１２３ full width",
    "𠀀𠀁 supplementary ideographs 𪜀 𫝀 𫠠 丽",
    "CJK compatibility: 豈 更 車",
    "中English混合text文",
    # Other scripts.
    "العربية: مرحبا بالعالم!",
    "עברית: שלום עולם",
    "हिन्दी: नमस्ते दुनिया।",
    "ภาษาไทย: สวัสดีชาวโลก",
    "Русский: Привет, мир! ЁЛКА ёлка",
    "Українська: Ґанок, їжак, Єва",
    "ქართული ენა",
    "Հայերեն լեզու",
    "አማርኛ ቋንቋ",
    "தமிழ் மொழி",
    "বাংলা ভাষা",
    "ꦗꦮ꧀ꦗꦮ Javanese with pangkon",
    "Musical \U0001d158\U0001d16d\U0001d165 and \U0001d15f\U0001d16e",
    # Emoji and symbols.
    "I ❤️ NY 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇫🇷",
    "Weather: ☀️ ☁️ ☂️ ❄️",
    "Math: x² + y² = z², ∑ᵢ aᵢ ≤ ∞, ∀x ∈ ℝ, √2 ≈ 1.414, a ± b × c ÷ d",
    "Arrows → ← ↑ ↓ ⇒ and © ® ™ § ¶ ° € £ ¥ ¢",
    "Math symbols + < = > | ~ ^ are ASCII punctuation, but ≠ ≤ ∑ are Sm",
    # Punctuation of many scripts.
    "¿Qué tal? ¡Muy bien!",
    "«Bonjour», dit-il — „Guten Tag“ … “quoted” ‘single’",
    "日本、中国。「引用」『二重』【括弧】",
    "em—dash en–dash hyphen‐ minus− ellipsis… bullet• middle·dot",
    "Arabic ، ؛ ؟ punctuation",
    "Devanagari danda । double ॥",
    "Fullwidth ！＂＃％＆（）＊，．／：；？＠［］｛｝",
    "¡¿«»„“”‚‘’‹›",
    # Control, zero-width, exotic spaces, invalid characters.
    "zero\u200bwidth\u200bspace",
    "soft\u00adhyphen and joiner\u200d and non\u200cjoiner",
    "word\ufeffwith BOM",
    "nul\x00char and \x07bell and \x1bescape",
    "replacement \ufffd char",
    "non\u00a0breaking\u00a0space and ideographic\u3000space",
    "en\u2002em\u2003thin\u2009hair\u200anarrow\u202fmath\u205fspaces",
    "line\u2028separator and paragraph\u2029separator",
    "next\x85line and vertical\x0btab and form\x0cfeed",
    "\x1cfile\x1dgroup\x1erecord\x1funit separators",
    "directional \u202ae\u202c marks \u200fhere\u200e",
    "private use \ue000\uf8ff and unassigned \u0378\u0379",
    "tag characters \U000e0041\U000e0042",
    "Mongolian vowel separator \u180e here",
    # Over-long words.
    "a" * 200,
    "a" * 201,
    "b" * 199 + "é",
    "é" * 201,
    "x" * 250 + " short " + "y" * 300,
    "Ü" * 199 + "\u0308",
    "中" * 250,
    "!" * 300,
]

# Material for random mixtures.
WORD_POOLS = [
    ["hello", "world", "token", "bert", "language", "model", "the", "of", "running"],
    ["Hello", "WORLD", "Token", "BeRT", "LANGUAGE", "Model", "The", "OF", "Running"],
    ["café", "naïve", "résumé", "Ångström", "Dvořák", "São", "Straße", "Việt", "Crème"],
    ["ΟΔΟΣ", "ΣΑΣ", "Σ", "σοφός", "ἈΘῆναι", "ΑΣ'", "ΟΔΥΣΣΕΥΣ", "Σ.", "ΑΣ\u0301"],
    ["İstanbul", "ıiIİ", "İ", "DİYARBAKIR", "ŞEKER"],
    ["中文", "我爱你", "北京", "日本語", "한국어", "カタカナ", "ひらがな", "漢字", "𠀀"],
    ["مرحبا", "שלום", "नमस्ते", "สวัสดี", "Привет", "ЁЛКА", "ქართული"],
    ["😀", "👍🏽", "❤️", "🇫🇷", "👨‍👩‍👧", "☀️"],
    ["1,234", "3.14", "$5", "50%", "2019-07-01", "10:30", "+1", "#1"],
    ["https://x.org/a?b=c", "jane@example.com", "C++", "node.js", "e.g.", "U.S.A."],
    ["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[unused1]", "<mask>"],
    ["≠", "≤", "∑", "√", "∞", "×", "÷", "±", "→", "©"],
    ["unaffable", "antidisestablishmentarianism", "xylophone", "qwxzv", "zzzzzz"],
]
SEPARATORS = [" ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "\u2028", "\u2003", ""]
INSERTIONS = [
    "\u200b", "\u00ad", "\u200d", "\ufeff", "\x00", "\x07", "\ufffd", "\u0301", "\u0308",
    "\u0323", "¿", "¡", "«", "»", "„", "“", "…", "—", "、", "。", "「", "」", ",", ".", "!",
    "?", "'", "\"", "(", ")", "-", "_", "/", "\\", "@", "#", "$", "%", "&", "*", "`", "~",
    "^", "|", "+", "=", "<", ">", "\ue000", "\u0378", "\U0001d16d", "\U0001d165",
]


def _random_string(rng):
    parts = []
    for _ in range(rng.randint(1, 12)):
        word = rng.choice(rng.choice(WORD_POOLS))
        if rng.random() < 0.3:
            cut = rng.randint(0, len(word))
            word = word[:cut] + rng.choice(INSERTIONS) + word[cut:]
        if rng.random() < 0.15:
            word = word.upper() if rng.random() < 0.5 else word.capitalize()
        if rng.random() < 0.02:
            word = word * rng.randint(30, 60)
        parts.append(word)
        parts.append(rng.choice(SEPARATORS))
    return "".join(parts)


def _random_code_points(rng):
    """Any code point but surrogates (assigned or not, every plane), mixed with spaces,
    Latin and Greek letters, combining marks and spacing marks with a combining class."""
    nearby = [*range(0x20, 0x250), *range(0x300, 0x400), *range(0x1D158, 0x1D175), 0x3A3]
    chars = []
    for _ in range(rng.randint(1, 40)):
        if rng.random() < 0.15:
            chars.append(" ")
        elif rng.random() < 0.3:
            code = rng.randrange(0x110000 - 0x800)
            chars.append(chr(code if code < 0xD800 else code + 0x800))
        else:
            chars.append(chr(rng.choice(nearby)))
    return "".join(chars)


def build_corpus(num_mixtures=450, num_code_point_strings=100, seed=20181011):
    """The hand-written sentences, seeded random mixtures of words, insertions and
    separators, and seeded random code point strings."""
    rng = random.Random(seed)
    mixtures = [_random_string(rng) for _ in range(num_mixtures)]
    code_points = [_random_code_points(rng) for _ in range(num_code_point_strings)]
    return SENTENCES + mixtures + code_points
