import {SETTINGS, type SettingName, type SettingSpec} from "./settingsTable.js";

export const SETTINGS_TABLE_START = "<!-- settings:start -->";
export const SETTINGS_TABLE_END = "<!-- settings:end -->";

/** docs/settings.md's settings table, generated from SETTINGS (`npm run docs` writes it; a test checks it). */
export function renderSettingsTable(): string {
    const rows = (Object.keys(SETTINGS) as SettingName[]).map((name) => {
        const setting: SettingSpec = SETTINGS[name];
        const shown = setting.shown ?? (setting.default == null ? "none" : `\`${setting.default}\``);
        const alias = setting.alias == null ? "" : ` Its old name \`${setting.alias}\` is still read; setting both to different values refuses to boot.`;
        return `| \`${name}\` | ${shown} | ${(setting.doc + alias).replace(/\|/g, "\\|")} |`;
    });
    return ["| Variable | Default | Meaning |", "| --- | --- | --- |", ...rows].join("\n") + "\n";
}

/** `page` with the text between the markers replaced by `table`; throws when the markers are missing. */
export function withSettingsTable(page: string, table: string): string {
    const start = page.indexOf(SETTINGS_TABLE_START);
    const end = page.indexOf(SETTINGS_TABLE_END);
    if (start === -1 || end === -1 || end < start)
        throw new Error(`the page has no ${SETTINGS_TABLE_START} ... ${SETTINGS_TABLE_END} section`);
    return `${page.slice(0, start + SETTINGS_TABLE_START.length)}\n${table}${page.slice(end)}`;
}
