// The pipeline's tokenization in the browser: TF Text's FastBertTokenizer, then the student's remap.
//
// Why not a library: the JS BERT tokenizers on npm (transformers.js' BertTokenizer) follow
// Hugging Face's BertNormalizer, which lower-cases and strips NFD accents but applies no NFKC
// case folding, so their ids differ from FastBertTokenizer's (what Transform and every .tflite
// was fed) on full-width letters, ligatures and ß; and none knows the student's remap. Exact
// ids are the contract, so the few rules are written out here, each as TF Text states it.

const UNK = "[UNK]";
const CLS = "[CLS]";
const SEP = "[SEP]";
const PAD = "[PAD]";
// FastBertTokenizer's default max_bytes_per_word: a longer word becomes one [UNK].
const MAX_BYTES_PER_WORD = 100;
const SUFFIX = "##";

const CONTROL = /[\p{Cc}\p{Cf}]/gu;
const MARK = /\p{Mn}/gu;
const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;
const WHITESPACE = /^\s$/u;
const PUNCTUATION = /^\p{P}$/u;
const encoder = new TextEncoder();

// FastBertNormalizer maps each code point on its own: with lower_case_nfd_strip_accents,
// ICU's NFKC_Casefold, then NFD, then drop nonspacing marks (Mn); always Cc/Cf -> space.
// NFKC_Casefold also drops default ignorables (soft hyphen). Checked against TF Text 2.16 on
// every code point: the same word pieces for all but the ~250 characters Unicode assigned after
// the ICU inside TF Text (unassigned there; docs/edge-variants.md).
function normalizeCodePoint(ch, lowerCase) {
  let s = ch;
  if (lowerCase) {
    s = caseFold(s.normalize("NFKC")).normalize("NFKC").replace(IGNORABLE, "");
    s = s.normalize("NFD").replace(MARK, "");
  }
  return s.replace(CONTROL, " ");
}

// JS has no case folding. Upper- then lower-casing folds the letters whose folding is not their
// lower case (ς -> σ, ϐ -> β, ß -> ss); dotless ı folds to itself, not to i; ẞ folds to ss.
function caseFold(s) {
  return Array.from(s, (c) => (c === "ı" ? c : c.toUpperCase().toLowerCase()))
    .join("")
    .replace(/ß/g, "ss");
}

// BERT's split: CJK ideographs and ASCII symbols count as punctuation (fast_wordpiece_tokenizer_utils.h).
function isPunctuation(cp, ch) {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f) ||
    (cp >= 33 && cp <= 47) ||
    (cp >= 58 && cp <= 64) ||
    (cp >= 91 && cp <= 96) ||
    (cp >= 123 && cp <= 126) ||
    PUNCTUATION.test(ch)
  );
}

export class Tokenizer {
  /**
   * @param {string[]} vocab The encoder's word pieces, id = line.
   * @param {boolean} lowerCase The encoder's casing (`lower_case` in the .tflite's metadata).
   * @param {number} maxSeqLength Ids per row, [CLS] and [SEP] included.
   * @param {number[]|null} studentRows Line i = encoder id of student row i (student_ids.txt), or null.
   */
  constructor(vocab, lowerCase, maxSeqLength, studentRows = null) {
    this.ids = new Map(vocab.map((piece, id) => [piece, id]));
    this.lowerCase = lowerCase;
    this.maxSeqLength = maxSeqLength;
    this.cache = new Map();
    this.unk = this.ids.get(UNK);
    this.pad = this.ids.has(PAD) ? this.ids.get(PAD) : 0;
    this.remap = null;
    if (studentRows) {
      // A piece the student keeps no row for shares [UNK]'s row (edge/student/vocab.py).
      const unkRow = studentRows.indexOf(this.unk);
      this.remap = new Int32Array(vocab.length).fill(unkRow);
      studentRows.forEach((encoderId, row) => (this.remap[encoderId] = row));
    }
  }

  normalize(text) {
    let out = "";
    for (const ch of text) {
      let mapped = this.cache.get(ch);
      if (mapped === undefined) {
        mapped = normalizeCodePoint(ch, this.lowerCase);
        this.cache.set(ch, mapped);
      }
      out += mapped;
    }
    return out;
  }

  /** Words: runs of non-space characters, each punctuation character a word of its own. */
  words(text) {
    const words = [];
    let word = "";
    for (const ch of this.normalize(text)) {
      const cp = ch.codePointAt(0);
      if (WHITESPACE.test(ch) || isPunctuation(cp, ch)) {
        if (word) words.push(word);
        word = "";
        if (!WHITESPACE.test(ch)) words.push(ch);
      } else {
        word += ch;
      }
    }
    if (word) words.push(word);
    return words;
  }

  /** Greedy longest-match-first WordPiece; a word with no full match is one [UNK]. */
  wordPieces(word) {
    if (encoder.encode(word).length > MAX_BYTES_PER_WORD) return [this.unk];
    const chars = Array.from(word);
    const pieces = [];
    for (let start = 0; start < chars.length; ) {
      let end = chars.length;
      let id;
      for (; end > start; end--) {
        const piece = (start > 0 ? SUFFIX : "") + chars.slice(start, end).join("");
        id = this.ids.get(piece);
        if (id !== undefined) break;
      }
      if (end === start) return [this.unk];
      pieces.push(id);
      start = end;
    }
    return pieces;
  }

  /** Encoder ids of one text: [CLS] pieces [SEP], truncated and padded to maxSeqLength (Int32Array). */
  encoderIds(text) {
    const pieces = this.words(text).flatMap((w) => this.wordPieces(w));
    const row = [this.ids.get(CLS), ...pieces.slice(0, this.maxSeqLength - 2), this.ids.get(SEP)];
    const ids = new Int32Array(this.maxSeqLength).fill(this.pad);
    ids.set(row);
    return ids;
  }

  /** The student's input: encoder ids through the remap. */
  studentIds(text) {
    const ids = this.encoderIds(text);
    return this.remap ? ids.map((id) => this.remap[id]) : ids;
  }
}
