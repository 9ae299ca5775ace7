// Modal dialogs on the native <dialog> element.

import { h } from './dom.js';
import { describe } from './api.js';

/**
 * Opens a modal form. `submit(form)` runs on submit; when it resolves the dialog closes, when it
 * rejects the error is shown in words and the dialog stays open.
 * Returns the <dialog> element (removed from the page once closed).
 */
export function formDialog({ id, title, intro, fields = [], submitLabel, busyLabel, danger = false, action, submit }) {
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const ok = h('button', { class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, type: 'submit', 'data-role': 'submit' }, submitLabel);
  const cancel = h('button', { class: 'btn', type: 'button', 'data-role': 'cancel' }, 'Cancel');
  const form = h('form', { novalidate: false },
    h('h2', {}, title),
    intro && h('p', {}, intro),
    fields,
    error,
    h('div', { class: 'buttons' }, cancel, ok));
  const dialog = h('dialog', { id, 'aria-label': title }, form);
  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => dialog.remove());
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    ok.disabled = true;
    cancel.disabled = true;
    ok.textContent = busyLabel || submitLabel;
    try {
      await submit(form);
      dialog.close();
    } catch (err) {
      error.textContent = describe(action, err);
      error.hidden = false;
    } finally {
      ok.disabled = false;
      cancel.disabled = false;
      ok.textContent = submitLabel;
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/** Shows a secret once (e.g. a generated admin password), with a copy button. */
export function secretDialog({ id, title, intro, secret }) {
  const code = h('code', { 'data-role': 'secret' }, secret);
  const copy = h('button', { class: 'btn', type: 'button' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(secret);
      copy.textContent = 'Copied';
    } catch {
      window.getSelection().selectAllChildren(code);
      copy.textContent = 'Selected: press Ctrl+C';
    }
  });
  const done = h('button', { class: 'btn btn-primary', type: 'submit', 'data-role': 'done' }, 'Done');
  const form = h('form', { method: 'dialog' },
    h('h2', {}, title),
    h('p', {}, intro),
    h('div', { class: 'secret' }, code, copy),
    h('p', { class: 'notice' }, 'This password is shown only now. It is stored only as a hash.'),
    h('div', { class: 'buttons' }, done));
  const dialog = h('dialog', { id, 'aria-label': title }, form);
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/** A labelled input; `attrs` go to the input. */
export function field(label, attrs, hint) {
  return h('label', { class: attrs.wide ? 'wide' : undefined },
    label,
    h(attrs.tag || 'input', { ...attrs, tag: undefined, wide: undefined }),
    hint && h('span', { class: 'hint' }, hint));
}

/** A labelled <select> of [value, text] options. */
export function choice(label, attrs, options, hint) {
  const select = h('select', { ...attrs, wide: undefined, value: undefined },
    options.map(([value, text]) => h('option', { value }, text)));
  if (attrs.value !== undefined) select.value = attrs.value;
  return h('label', { class: attrs.wide ? 'wide' : undefined },
    label, select, hint && h('span', { class: 'hint' }, hint));
}
