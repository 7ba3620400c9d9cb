/** esbuild's `text` loader turns `import css from "./styles.css"` into the file's contents. */
declare module "*.css" {
  const text: string;
  export default text;
}
