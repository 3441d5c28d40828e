// @ts-check
/** The playground page: tabs, the API key form, and the three tools with the status strip. */
import {onUnauthorized, storedKey, storeKey} from "./api.js";
import {byId, messageOf, showError} from "./dom.js";
import {ChatTab} from "./chat.js";
import {DebugTab} from "./debug.js";
import {EnhanceTab} from "./enhance.js";
import {StatusStrip} from "./status.js";

const chat = new ChatTab();
const debug = new DebugTab(chat);
const enhance = new EnhanceTab();
const status = new StatusStrip();

/** @type {Record<string, () => void>} */
const onShow = {debug: () => debug.shown()};

for (const name of ["chat", "debug", "enhance"]) {
    byId(`tab-${name}`, HTMLButtonElement).addEventListener("click", () => {
        for (const other of ["chat", "debug", "enhance"]) {
            byId(`tab-${other}`, HTMLButtonElement).setAttribute("aria-selected", String(other === name));
            byId(`panel-${other}`, HTMLElement).hidden = other !== name;
        }
        onShow[name]?.();
    });
}

/** Lists the worker offers (models, job types); failures show where the list is used. */
async function loadLists() {
    const [models, jobTypes] = await Promise.allSettled([chat.loadModels(), enhance.loadJobTypes()]);
    showError(byId("model-error", HTMLElement),
        models.status === "rejected" ? `Could not list the models: ${messageOf(models.reason)}` : null);
    showError(byId("enhance-error", HTMLElement),
        jobTypes.status === "rejected" ? `Could not list the job types: ${messageOf(jobTypes.reason)}` : null);
}

// The key: asked for once, when the worker first answers 401, and kept in this tab's session storage.
const keyForm = byId("key-form", HTMLFormElement);
const keyInput = byId("key-input", HTMLInputElement);
const keyError = byId("key-error", HTMLElement);
onUnauthorized(() => {
    const hadKey = storedKey() != null;
    if (!keyForm.hidden) return;
    keyForm.hidden = false;
    showError(keyError, hadKey ? "The worker did not accept the stored key." : null);
    keyInput.focus();
});
keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    storeKey(keyInput.value.trim());
    keyInput.value = "";
    keyForm.hidden = true;
    void status.refresh();
    void loadLists();
});

status.start();
void loadLists();
chat.input.focus();
