/**
 * Bytes to server-sent events for one response: one streaming `TextDecoder` (so a UTF-8
 * character cut between chunks survives, and a BOM is dropped) and one `eventsource-parser`
 * (any fragmentation, LF/CRLF/CR, comments, `data:` with or without the space,
 * `event:`/`id:`/`retry:` lines; unknown lines are ignored as the SSE standard says).
 */
import { createParser, EventSourceMessage, EventSourceParser } from 'eventsource-parser';

/** Receives each event's data; `unterminated` is true for an event completed only by `finish()`. */
export type SseEventHandler = (data: string, eventType: string | undefined, unterminated: boolean) => void;

const BOM = '\ufeff';

/** Streaming SSE decoder for one response. */
export class SseDecoder {
  constructor(onEvent: SseEventHandler) {
    this.parser = createParser({
      onEvent: (event: EventSourceMessage) => onEvent(event.data, event.event, this.finishing)
    });
  }

  /** Feed a chunk of the body: bytes (decoded here) or text already decoded. */
  push(chunk: Uint8Array | string): void {
    let text: string;
    if (typeof chunk === 'string') {
      text = this.atStart && chunk.charCodeAt(0) === 0xfeff ? chunk.slice(BOM.length) : chunk;
    } else {
      text = this.decoder.decode(chunk, { stream: true });
    }
    if (text !== '') {
      this.atStart = false;
      this.parser.feed(text);
    }
  }

  /**
   * What is fed from now on follows bytes read elsewhere (a digest, core/digest.ts), at an
   * event's end: a BOM there is text, not the stream's start. Before any `push`.
   */
  continueStream(): void {
    this.decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    this.atStart = false;
    // eventsource-parser drops the characters "ï»¿" (a BOM's bytes read as Latin-1) at the
    // start of its first chunk; the bytes fed next are not the stream's first.
    this.parser.feed('');
  }

  /**
   * The body ended: flush the decoder and complete a last event that lacks its blank line
   * (`reset({consume: true})` alone parses a dangling line but does not dispatch it, so a
   * blank line is fed first). Events dispatched here are flagged `unterminated`.
   */
  finish(): void {
    this.finishing = true;
    const rest = this.decoder.decode();
    if (rest !== '') {
      this.parser.feed(rest);
    }
    this.parser.feed('\n\n');
    this.parser.reset({ consume: true });
    this.finishing = false;
  }

  private decoder = new TextDecoder('utf-8');
  private readonly parser: EventSourceParser;
  private atStart = true;
  private finishing = false;
}
