/**
 * A pull reader over a stream of byte chunks. Requests that fall inside one chunk return a
 * zero-copy view; requests that straddle chunks copy only the requested bytes. Memory stays
 * bounded by the largest single request plus one chunk.
 *
 * @module
 */

/** Anything that yields byte chunks: a `ReadableStream`, an async or sync iterable, or bytes. */
export type ByteSource =
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>
  | Iterable<Uint8Array>
  | Uint8Array;

function iteratorOf(source: ByteSource): AsyncIterator<Uint8Array> | Iterator<Uint8Array> {
  if (source instanceof Uint8Array) return [source][Symbol.iterator]();
  if (Symbol.asyncIterator in source) {
    return (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  }
  return (source as Iterable<Uint8Array>)[Symbol.iterator]();
}

/** Sequential reader with an absolute byte offset. */
export class ByteReader {
  #it: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  #chunks: Uint8Array[] = [];
  #head = 0;
  #buffered = 0;
  #offset = 0;
  #done = false;

  /** Wraps a byte source. */
  constructor(source: ByteSource) {
    this.#it = iteratorOf(source);
  }

  /** Absolute offset of the next unread byte. */
  get offset(): number {
    return this.#offset;
  }

  /** Bytes buffered and not yet consumed. */
  get buffered(): number {
    return this.#buffered;
  }

  /**
   * Pulls chunks until at least `n` bytes are buffered or the source ends.
   * Returns the number of bytes buffered (less than `n` only at the end of the input).
   */
  async fill(n: number): Promise<number> {
    while (this.#buffered < n && !this.#done) {
      const r = await this.#it.next();
      if (r.done) {
        this.#done = true;
        break;
      }
      const chunk = r.value;
      if (chunk.length === 0) continue;
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    return this.#buffered;
  }

  /** True when nothing is buffered and the source has ended (call after `fill`). */
  get atEnd(): boolean {
    return this.#done && this.#buffered === 0;
  }

  /** The next `n` buffered bytes without consuming them; `n` must not exceed `buffered`. */
  peek(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first !== undefined && first.length - this.#head >= n) {
      return first.subarray(this.#head, this.#head + n);
    }
    const out = new Uint8Array(n);
    let filled = 0;
    let pos = this.#head;
    for (const c of this.#chunks) {
      if (filled >= n) break;
      const take = Math.min(c.length - pos, n - filled);
      out.set(c.subarray(pos, pos + take), filled);
      filled += take;
      pos = 0;
    }
    return out;
  }

  /** Consumes and returns the next `n` buffered bytes; `n` must not exceed `buffered`. */
  take(n: number): Uint8Array {
    const out = this.peek(n);
    this.#drop(n);
    return out;
  }

  /** Consumes up to `n` bytes, pulling from the source as needed; returns the count skipped. */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      if (this.#buffered === 0 && (await this.fill(1)) === 0) break;
      const step = Math.min(left, this.#buffered);
      this.#drop(step);
      left -= step;
    }
    return n - left;
  }

  #drop(n: number): void {
    this.#buffered -= n;
    this.#offset += n;
    let left = n;
    while (left > 0) {
      const c = this.#chunks[0];
      const avail = c.length - this.#head;
      if (avail > left) {
        this.#head += left;
        return;
      }
      left -= avail;
      this.#chunks.shift();
      this.#head = 0;
    }
  }
}

/** Reads an unsigned 16-bit integer. */
export function u16(b: Uint8Array, i: number, littleEndian: boolean): number {
  return littleEndian ? b[i] | (b[i + 1] << 8) : (b[i] << 8) | b[i + 1];
}

/** Reads an unsigned 32-bit integer. */
export function u32(b: Uint8Array, i: number, littleEndian: boolean): number {
  return littleEndian
    ? (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0
    : ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

/** Reads a big-endian (network order) unsigned 16-bit integer. */
export function be16(b: Uint8Array, i: number): number {
  return (b[i] << 8) | b[i + 1];
}

/** Reads a big-endian (network order) unsigned 32-bit integer. */
export function be32(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}
