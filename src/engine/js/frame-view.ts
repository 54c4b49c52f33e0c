// dgram's send(buf, offset, length) slices a new Buffer on every call. A lane's frames mostly have
// one length (the same payload size every period), so a view of the frame buffer is kept and made
// anew only when the length changes: one allocation less per frame on the hot path.
export class FrameView {
  private view: Buffer;

  constructor(private readonly frame: Buffer) {
    this.view = frame.subarray(0, 0);
  }

  /** The first `length` bytes of the frame buffer. */
  of(length: number): Buffer {
    if (this.view.length !== length) this.view = this.frame.subarray(0, length);
    return this.view;
  }
}
