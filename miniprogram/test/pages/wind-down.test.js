const { load, mount, fakeWx, ok, fail, PENDING, text, emit } = require('../harness')
const { windDown, balanceReturn, membership } = require('../fixtures')

const page = load('pages/wind-down/wind-down')

test('the plan\'s wind-down: closing date, claims still taken, the stage, everyone\'s refund progress, the surplus rule', async () => {
  fakeWx({ 'GET /plans/adult_789/wind-down': ok(windDown()) })
  const comp = mount(page)
  await comp.instance.onLoad({ code: 'adult_789' })
  const shown = text(comp)
  expect(shown).toContain('此计划将于 2026-06-30 终止')
  expect(shown).toContain('不再接受加入。2026-06-30 之前发生的事故仍可申请')
  expect(shown).toContain('已公告最后一期分摊3退回余额4已结束') // the first two done (ticked)
  expect(comp.instance.data.windDown.stage).toBe(2)
  expect(shown).toContain('已退回 800/1,234 人 · 待退回 430 人 · 失败 4 人')
  expect(shown).toContain('已退回¥2,500.00')
  expect(shown).toContain('待退回¥1,202.00')
  expect(shown).toContain('计划结余按终止日各成员余额的比例分还')
  expect(comp.instance.data.windDown.refundedPercent).toBe(65)
  expect(comp.querySelector('.my-return')).toBeFalsy()
  expect(comp.querySelector('.closing-report')).toBeFalsy()
})

test('a member sees their own balance coming back; the closing report link once published', async () => {
  const wx = fakeWx({ 'GET /plans/adult_789/wind-down': ok(windDown({ status: 'closed', closing_report_url: '/api/v1/plans/adult_789/wind-down/report' })),
    'GET /memberships/3': ok(membership(3, { state: 'left', balance_fen: 0, balance_return: balanceReturn({
      amount_fen: 1000, returned_fen: 600, by_refund_fen: 400, by_transfer_fen: 600 }) })) })
  wx.setClipboardData = jest.fn()
  const comp = mount(page)
  await comp.instance.onLoad({ code: 'adult_789', membership: '3' })
  const mine = text(comp.querySelector('.my-return'))
  expect(mine).toContain('你的余额¥10.00')
  expect(mine).toContain('退回中已退回¥6.00')
  expect(mine).toContain('原路退回¥4.00· 转账退回¥6.00')
  expect(comp.instance.data.mine.percent).toBe(60)
  await emit(comp, '.closing-report', 'click')
  expect(wx.setClipboardData).toHaveBeenCalledWith({ data: 'http://127.0.0.1:8000/api/v1/plans/adult_789/wind-down/report' })
})

test('loading; a plan that is not closing (404) is said so', async () => {
  fakeWx({ 'GET /plans/adult_789/wind-down': [PENDING, fail(404, 'not_found', '这个计划没有在终止')] })
  const comp = mount(page)
  comp.instance.onLoad({ code: 'adult_789' })
  expect(text(comp)).toContain('加载中')
  await comp.instance.onLoad({ code: 'adult_789' })
  expect(text(comp)).toContain('这个计划没有在终止')
})
