// Words shown for the API's codes.
const MEMBERSHIP_STATES = {
  pending: '待充值', observing: '观察期', protected: '保障中', suspended: '已暂停', lapsed: '已失效', left: '已退出',
}
const RELATIONS = { self: '本人', child: '子女', parent: '父母', spouse: '配偶' }
const CLAIM_STATUSES = {
  submitted: '已提交', under_review: '审核中', returned: '需补充材料', investigating: '调查中', publicity: '公示中',
  ready: '待分摊', collected: '已筹集', paid: '已打款', rejected: '未通过', withdrawn: '已撤回',
}
const INCIDENTS = [{ key: 'illness', label: '重大疾病' }, { key: 'accident', label: '意外' }]

const label = (table, key) => table[key] || key

module.exports = { MEMBERSHIP_STATES, RELATIONS, CLAIM_STATUSES, INCIDENTS, label }
