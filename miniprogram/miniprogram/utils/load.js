// Loading a page's data: status goes loading → ready | empty | error, which <state-view> shows.
// Loads are silent (no toast): the error message is shown in the page, with a retry button.
async function loadInto(page, fetch, isEmpty) {
  page.setData({ status: 'loading', errorMessage: '' })
  try {
    const data = await fetch({ silent: true })
    page.setData(Object.assign({}, data, { status: isEmpty && isEmpty(data) ? 'empty' : 'ready' }))
  } catch (error) {
    page.setData({ status: 'error', errorMessage: error.message || '加载失败' })
  }
}

module.exports = { loadInto }
