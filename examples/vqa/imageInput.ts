// Where the picture comes from: a file chosen, dropped on the page or pasted, a sample shipped with the
// model, or the camera (getUserMedia, where the browser has it). Each ends in `onImage(blob, name)`.

export interface ImageInput {
  /** Shows the picture (after onImage accepted it). */
  show(blob: Blob, name: string): void;
  setBusy(busy: boolean): void;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** The first image among dropped or pasted items. */
function firstImage(files: FileList | null | undefined): File | undefined {
  return [...(files ?? [])].find((f) => f.type.startsWith('image/'));
}

export function createImageInput(onImage: (blob: Blob, name: string) => void, onError: (e: unknown) => void): ImageInput {
  const file = $<HTMLInputElement>('image-file');
  const zone = $('drop-zone');
  const preview = $<HTMLImageElement>('image-preview');
  const video = $<HTMLVideoElement>('camera-view');
  const buttons = ['choose-image', 'camera', 'camera-shoot', 'camera-cancel'].map((id) => $<HTMLButtonElement>(id));
  const [choose, camera, shoot, cancel] = buttons as [HTMLButtonElement, HTMLButtonElement, HTMLButtonElement, HTMLButtonElement];
  let previewUrl: string | undefined;
  let stream: MediaStream | undefined;

  choose.addEventListener('click', () => file.click());
  file.addEventListener('change', () => {
    const f = file.files?.[0];
    if (f) onImage(f, f.name);
    file.value = '';
  });

  // Drop anywhere on the page; the zone shows where.
  document.addEventListener('dragover', (ev) => {
    if (!ev.dataTransfer?.types.includes('Files')) return;
    ev.preventDefault();
    zone.classList.add('dragging');
  });
  document.addEventListener('dragleave', (ev) => {
    if (ev.relatedTarget === null) zone.classList.remove('dragging');
  });
  document.addEventListener('drop', (ev) => {
    zone.classList.remove('dragging');
    if (!ev.dataTransfer?.types.includes('Files')) return;
    ev.preventDefault();
    const f = firstImage(ev.dataTransfer.files);
    if (f) onImage(f, f.name || 'dropped picture');
    else onError(Object.assign(new Error('what was dropped is not an image file'), { name: 'InvalidImageError', code: 'INVALID_IMAGE' }));
  });
  // Paste: a picture on the clipboard (text pastes into the question as usual).
  document.addEventListener('paste', (ev) => {
    const f = firstImage(ev.clipboardData?.files);
    if (!f) return;
    ev.preventDefault();
    onImage(f, f.name && f.name !== 'image.png' ? f.name : 'pasted picture');
  });

  const stopCamera = () => {
    for (const t of stream?.getTracks() ?? []) t.stop();
    stream = undefined;
    video.srcObject = null;
    video.hidden = true;
    shoot.hidden = cancel.hidden = true;
    camera.hidden = false;
    choose.hidden = false;
    preview.hidden = !previewUrl;
    $('image-empty').hidden = !!previewUrl;
  };
  if (navigator.mediaDevices?.getUserMedia) {
    camera.hidden = false;
    camera.addEventListener('click', async () => {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
      } catch (e) {
        return onError(Object.assign(new Error(`the camera could not be opened: ${(e as Error).message}`), { name: (e as Error).name || 'Error' }));
      }
      video.srcObject = stream;
      video.hidden = false;
      preview.hidden = true;
      $('image-empty').hidden = true;
      camera.hidden = choose.hidden = true;
      shoot.hidden = cancel.hidden = false;
      shoot.focus();
    });
    shoot.addEventListener('click', () => {
      const c = document.createElement('canvas');
      c.width = video.videoWidth;
      c.height = video.videoHeight;
      c.getContext('2d')!.drawImage(video, 0, 0);
      stopCamera();
      c.toBlob((b) => b && onImage(b, 'camera picture'), 'image/png');
    });
    cancel.addEventListener('click', stopCamera);
  }

  return {
    show(blob, name) {
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = URL.createObjectURL(blob);
      preview.src = previewUrl;
      preview.alt = `The picture asked about: ${name}`;
      preview.hidden = false;
      $('image-empty').hidden = true;
      preview.decode().then(
        () => {
          preview.classList.toggle('pixelated', preview.naturalWidth < 256);
          $('image-info').textContent = `${name} · ${preview.naturalWidth} x ${preview.naturalHeight}`;
        },
        () => ($('image-info').textContent = name),
      );
    },
    setBusy(busy) {
      for (const b of buttons) b.disabled = busy;
      for (const b of document.querySelectorAll<HTMLButtonElement>('#samples button')) b.disabled = busy;
    },
  };
}
