/**
 * Which batch the Responses section shows (no DOM): the newest of the page, unless the user
 * (the batch list) or `fanout:open` chose another; a batch generated after that choice is shown
 * instead, so that Generate always shows what it started.
 */
export class ShownBatch {
  /** The batch chosen; null: the newest. */
  get chosen(): string | null {
    return this._chosen;
  }

  /** Show batch `batchId` from now on (until a newer batch is generated). */
  choose(batchId: string | null): void {
    this._chosen = batchId;
  }

  /**
   * What a change of the model (its batches now, newest first, and the ids of those that
   * changed) means for the section: `list` when a batch came or went ({@link update}), `shown`
   * when the batch shown changed, null when only others did.
   */
  change(batches: ReadonlyArray<{ readonly id: string }>, changed: ReadonlySet<string>): 'list' | 'shown' | null {
    if (this.update(batches)) {
      return 'list';
    }
    const shown = this.shownIn(batches);
    return shown !== undefined && changed.has(shown.id) ? 'shown' : null;
  }

  /** The batch shown among `batches` (newest first): the chosen one while it is there, else the newest. */
  shownIn<T extends { readonly id: string }>(batches: ReadonlyArray<T>): T | undefined {
    return (this._chosen === null ? undefined : batches.find(batch => batch.id === this._chosen)) ?? batches[0];
  }

  /**
   * The model's batches now, newest first (a generated batch is put first; one restored or
   * read from the store goes in its place by date). Forgets the choice when a batch that was
   * not there before is now first. Returns whether the list changed (a batch came or went).
   */
  update(batches: ReadonlyArray<{ readonly id: string }>): boolean {
    const first = batches.length > 0 ? batches[0].id : null;
    let changed = batches.length !== this._ids.length;
    for (let i = 0; !changed && i < batches.length; i++) {
      changed = batches[i].id !== this._ids[i];
    }
    if (!changed) {
      return false;
    }
    if (first !== null && this._chosen !== null && first !== this._chosen && !this._ids.includes(first)) {
      this._chosen = null; // generated since the choice
    }
    this._ids = batches.map(batch => batch.id);
    return true;
  }

  private _chosen: string | null = null;
  /** The batch ids at the last update, newest first. */
  private _ids: string[] = [];
}
