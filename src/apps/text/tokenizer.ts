/**
 * Tokenizers for the sentence VAE (browser-safe): characters, or words with a frequency-cut
 * vocabulary. Ids 0–3 are always PAD, BOS, EOS, UNK, so models and batches can rely on them.
 * A tokenizer serialises to plain JSON and travels inside the model file.
 */
import { VaekitError } from "../../errors.js";

export const PAD = 0;
export const BOS = 1;
export const EOS = 2;
export const UNK = 3;
export const SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"] as const;

export type TokenizerKind = "char" | "word";

export interface TokenizerJson {
  format: "vaekit.tokenizer/1";
  kind: TokenizerKind;
  lowercase: boolean;
  /** All tokens by id, the four special tokens first. */
  tokens: string[];
}

export interface TokenizerOptions {
  kind: TokenizerKind;
  lowercase?: boolean;
  /** Word vocabularies: keep tokens seen at least this often (default 2). */
  minCount?: number;
  /** Keep at most this many non-special tokens, most frequent first (default 10,000). */
  maxVocab?: number;
}

/** Words are runs of letters, digits and apostrophes; every other non-space character is its own token. */
const WORD_PATTERN = /[\p{L}\p{N}']+|[^\s\p{L}\p{N}']/gu;
const NO_SPACE_BEFORE = new Set([".", ",", "!", "?", ";", ":", ")", "]", "}", "%"]);
const NO_SPACE_AFTER = new Set(["(", "[", "{", "$"]);

export class Tokenizer {
  private readonly index: Map<string, number>;

  constructor(
    readonly kind: TokenizerKind,
    readonly tokens: readonly string[],
    readonly lowercase: boolean,
  ) {
    SPECIAL_TOKENS.forEach((s, i) => {
      if (tokens[i] !== s) throw new VaekitError(`tokenizer: token ${i} must be "${s}", got "${tokens[i]}"`);
    });
    this.index = new Map(tokens.map((t, i) => [t, i]));
    if (this.index.size !== tokens.length) throw new VaekitError("tokenizer: the vocabulary has duplicate tokens");
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  /** The text split into token strings (before the vocabulary lookup). */
  split(text: string): string[] {
    const t = this.lowercase ? text.toLowerCase() : text;
    return this.kind === "char" ? [...t] : (t.match(WORD_PATTERN) ?? []);
  }

  /** Token ids of `text`, without BOS/EOS; tokens outside the vocabulary become UNK. */
  encode(text: string): number[] {
    return this.split(text).map((s) => this.index.get(s) ?? UNK);
  }

  /** Text of `ids`; stops at EOS, skips PAD and BOS, shows UNK as "<unk>". */
  decode(ids: ArrayLike<number>): string {
    const parts: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id === EOS) break;
      if (id === PAD || id === BOS) continue;
      parts.push(this.tokens[id] ?? SPECIAL_TOKENS[UNK]);
    }
    return this.kind === "char" ? parts.join("") : joinWords(parts);
  }

  /** How many tokens of `text` fall outside the vocabulary. */
  unknownCount(text: string): number {
    return this.split(text).filter((s) => !this.index.has(s)).length;
  }

  toJSON(): TokenizerJson {
    return { format: "vaekit.tokenizer/1", kind: this.kind, lowercase: this.lowercase, tokens: [...this.tokens] };
  }

  static fromJSON(json: unknown, source = "tokenizer"): Tokenizer {
    const j = json as Partial<TokenizerJson> | null;
    if (!j || j.format !== "vaekit.tokenizer/1") throw new VaekitError(`${source}: not a vaekit tokenizer`);
    if (j.kind !== "char" && j.kind !== "word") throw new VaekitError(`${source}: unknown tokenizer kind "${String(j.kind)}"`);
    if (!Array.isArray(j.tokens) || j.tokens.some((t) => typeof t !== "string")) throw new VaekitError(`${source}: tokens must be a list of strings`);
    return new Tokenizer(j.kind, j.tokens, j.lowercase === true);
  }

  /** Build a vocabulary from training lines: most frequent first, ties in first-seen order. */
  static fit(lines: readonly string[], opts: TokenizerOptions): Tokenizer {
    const lowercase = opts.lowercase ?? false;
    const minCount = opts.minCount ?? (opts.kind === "word" ? 2 : 1);
    const maxVocab = opts.maxVocab ?? 10_000;
    const probe = new Tokenizer(opts.kind, SPECIAL_TOKENS, lowercase);
    const counts = new Map<string, number>();
    for (const line of lines) for (const s of probe.split(line)) counts.set(s, (counts.get(s) ?? 0) + 1);
    const special = new Set<string>(SPECIAL_TOKENS);
    const kept = [...counts.entries()]
      .filter(([s, c]) => c >= minCount && !special.has(s))
      .sort((a, b) => b[1] - a[1]) // stable: equal counts keep first-seen order
      .slice(0, maxVocab)
      .map(([s]) => s);
    if (kept.length === 0) throw new VaekitError("the corpus gives an empty vocabulary (no token occurs often enough)");
    return new Tokenizer(opts.kind, [...SPECIAL_TOKENS, ...kept], lowercase);
  }
}

/** Join word tokens with single spaces, except around punctuation that hugs its neighbour. */
function joinWords(parts: string[]): string {
  let out = "";
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (i > 0 && !NO_SPACE_BEFORE.has(p) && !NO_SPACE_AFTER.has(parts[i - 1])) out += " ";
    out += p;
  }
  return out;
}
