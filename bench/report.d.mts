export declare const RESULTS_PATH: string
export declare const README_PATH: string
export declare const START: string
export declare const END: string
/** The markdown between the markers (markers excluded), from a parsed bench/results.json. */
export declare function renderResults(results: { rows: unknown[]; raw: Record<string, unknown> }): string
/** `readme` with the text between the markers replaced by `section`. */
export declare function replaceSection(readme: string, section: string): string
/** The text between the markers of `readme`. */
export declare function currentSection(readme: string): string
/** Renders results.json into the README; true when the README changed. */
export declare function writeReport(options?: { resultsPath?: string; readmePath?: string }): boolean
