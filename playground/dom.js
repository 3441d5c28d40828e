// @ts-check
/** Small DOM helpers for the playground. Text is always set as text, never parsed as HTML. */

/**
 * The element with this id, checked to be of the expected kind (a missing or wrong element is a
 * bug in index.html, so it fails at once rather than later).
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new (...args: any[]) => T} kind
 * @returns {T}
 */
export function byId(id, kind) {
    const element = document.getElementById(id);
    if (!(element instanceof kind))
        throw new Error(`#${id} is missing or not a ${kind.name}`);
    return element;
}

/**
 * A new element with a class and text.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function make(tag, className, text) {
    const element = document.createElement(tag);
    if (className != null) element.className = className;
    if (text != null) element.textContent = text;
    return element;
}

/**
 * Shows `message` in an error element, or hides it when `message` is null.
 * @param {HTMLElement} element
 * @param {string | null} message
 */
export function showError(element, message) {
    element.textContent = message ?? "";
    element.hidden = message == null;
}

/** The message of anything thrown. */
export function messageOf(/** @type {unknown} */ err) {
    return err instanceof Error ? err.message : String(err);
}

/**
 * A number input's value: undefined when empty, an error naming the field when it is not a number.
 * @param {HTMLInputElement} input
 * @param {string} label
 * @returns {number | undefined}
 */
export function numberValue(input, label) {
    if (input.validity.badInput) throw new Error(`${label}: not a number`);
    if (input.value.trim() === "") return undefined;
    const value = Number(input.value);
    if (!Number.isFinite(value)) throw new Error(`${label}: not a number`);
    return value;
}
