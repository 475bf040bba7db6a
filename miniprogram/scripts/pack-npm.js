// WeChat DevTools' "构建 npm", headless: miniprogram-ci's packNpmManually copies the mini-program
// packages of package.json's dependencies (tdesign-miniprogram) from node_modules into
// miniprogram/miniprogram_npm, where usingComponents paths find them. Offline: it reads node_modules
// only (no appid, no key, no network). `make miniprogram-npm` runs it; miniprogram_npm is git-ignored.
const path = require('path')
const ci = require('miniprogram-ci')

const ROOT = path.join(__dirname, '..')

ci.packNpmManually({
  packageJsonPath: path.join(ROOT, 'package.json'),
  miniprogramNpmDistDir: path.join(ROOT, 'miniprogram'),
}).then(result => {
  if (result.warnList && result.warnList.length) console.warn(JSON.stringify(result.warnList))
  console.log(`miniprogram_npm: ${result.miniProgramPackNum} mini-program package(s) built`)
}, error => {
  console.error(error)
  process.exit(1)
})
