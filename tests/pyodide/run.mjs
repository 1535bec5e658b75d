// Run a Python file in Pyodide under Node, with netnb's package folder copied onto its path.
//   node tests/pyodide/run.mjs PYODIDE_DIR NETNB_PACKAGE_DIR SCRIPT.py [PACKAGE,...]
// PACKAGEs are loaded from PYODIDE_DIR's lock first (scripts/pyodide_dist.py makes one that has scapy).
// Prints what the script prints; exits 1 if it raised (the traceback on stderr).
import fs from "fs";
import path from "path";
import { pathToFileURL } from "url";

const [pyodideDir, packageDir, script, packages] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href);
const started = Date.now();
const py = await loadPyodide({ indexURL: pyodideDir + path.sep });
const loaded = (Date.now() - started) / 1000;
function copy(from, to) {  // the package as it is in the work tree (what a wheel would hold)
  py.FS.mkdirTree(to);
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    if (entry.name === "__pycache__") continue;
    const source = path.join(from, entry.name);
    if (entry.isDirectory()) copy(source, to + "/" + entry.name);
    else py.FS.writeFile(to + "/" + entry.name, fs.readFileSync(source));
  }
}
copy(packageDir, "/lib/netnb-site/netnb");
let loading = 0;
if (packages) {
  const t = Date.now();
  await py.loadPackage(packages.split(","), { messageCallback: () => {} });
  loading = (Date.now() - t) / 1000;
}
py.setStdout({ batched: (s) => console.log(s) });
py.setStderr({ batched: (s) => console.error(s) });
try {
  py.runPython(`
import sys
sys.path.insert(0, "/lib/netnb-site")
print(f"pyodide {sys.version.split()[0]} ({sys.platform}) loaded in ${loaded} s, packages ${packages || "none"} in ${loading} s")
`);
  py.runPython(fs.readFileSync(script, "utf8"));
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
