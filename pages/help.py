"""使用说明: which page answers which question, what each figure means (with its rule id of the
policy), 会议模式, the monthly briefing, finding a household, and how to share a link. Text only:
the policy numbers it quotes are those of the warehouse being shown (its policy profile), or the
programme's defaults when there is none."""

from __future__ import annotations

import streamlit as st

from huinong import data
from huinong.auth import AccessDenied
from huinong.policy import Policy, default_policy
from pages import _signin as signin
from pages import _ui as ui

ui.route_if_run_directly()


def _policy() -> Policy:
    token = data.current_warehouse()
    if token is None:
        return default_policy()
    try:
        return Policy(data.policy(token, data.authorize(signin.current_user())))
    except (AccessDenied, data.WarehouseMissing):
        return default_policy()


policy = _policy()
line = policy.pct_text("village_breaker_rate_pct")
watch = policy.pct_text("watch_rate_pct")
share = policy.pct_text("township_breaker_share_pct")
stale = policy["stale_collection_months"]
base = policy["base_score"]
bands = "、".join(f"{band['grade']} ≥{band['min_score']}分" for band in policy.grades)

ui.page_header("使用说明")

st.markdown(
    f"""
### 哪个页面回答哪个问题

| 页面 | 回答的问题 |
|---|---|
| **总览** | 本月全区（或所选乡镇、行政村）的信用工程做得怎么样？和上月比有什么变化？哪些地方需要关注？下月末会不会有新的熔断？ |
| **信用评级** | 有多少农户评了级、各等级多少户？评分主要受哪些项目影响？和去年同期比，等级是升是降？哪些村的评级已经过期？ |
| **熔断监测** | 哪些行政村熔断或预警，为什么（熔断原因）？哪些乡镇熔断？下月末若不还款会怎样、是哪些贷款造成的？哪些农户被停止新增授信？ |
| **村级钻取** | 从全区到乡镇、行政村、单个农户逐级查看：某村为什么熔断，某户为什么是这个等级、为什么被一票否决。 |
| **报表导出** | 下载上报用的乡镇汇总表、村级熔断监测表、信用户名单、信用评定公示表；一键生成月度简报（PDF）。 |
| **数据管理** | 上传各村、银行报送的文件，查看校验报告和隔离记录，发布、撤回报送。 |
| **审计日志** / **用户管理** | 谁在何时登录、导出、上传、发布；新增、停用账号。 |

左侧选择**统计月份**和**范围**（乡镇、行政村），各页面都按所选月份和范围显示；
左侧“找农户”可按户主姓名、农户编号或身份证号（完整18位，或后4位）在本账号范围内查找农户。

### 各项指标的含义

| 指标 | 含义 | 规则 |
|---|---|---|
| 评级农户 | 在统计日之前有过信息采集、因而有评分的农户；评分依据最近一次采集 | R-S1 |
| 评分 | 基础分 {base} 分，加上加分项、减去扣分项，建档立卡户再加分；有任何一项一票否决即为 0 分 | R-S2 至 R-S6 |
| 信用等级、授信额度 | 按评分分档：{bands}，其余为无信用；每档对应一个纯信用授信额度 | R-C1 |
| 可用额度 | 授信额度减去在贷余额（不低于 0）；所在村或乡镇熔断时为 0 | R-C2 |
| 一票否决 | 黄赌毒记录、被执行或失信、贷款逾期（含已核销仍未还清）、对外担保的贷款逾期，任一项即为无信用 | R-S6 |
| 贷款余额 | 统计日在贷的农户贷款剩余本金之和（万元） | R-L1 |
| 逾期天数、不良 | 最早一期未还清的应还款到统计日的天数；超过 90 天为不良，其全部剩余本金计入不良余额 | R-L3 |
| 不良率 | 不良余额 ÷ 贷款余额；比较时按精确值，不四舍五入 | R-B1 |
| 村熔断 | 月末不良率**超过** {line}（恰好 {line} 不熔断）；下个月停止新增授信，到某个月末不再超过时解除 | R-B2、R-B3 |
| 预警 | 不良率超过 {watch}、未超过 {line}（看板提示） | R-B4 |
| 乡镇熔断 | 乡镇内熔断的行政村**达到**全部行政村的 {share} | R-B2 |
| 熔断原因 | 不良余额 ÷ 贷款余额 = 不良率与熔断线的比较，构成不良余额的每笔贷款，自何时起熔断，需收回或核销多少不良本金才能降到线内 | R-B1 至 R-B3 |
| 下月末预警 | 若到下月末都不还款：逾期将超过 90 天的贷款转为不良后，各村的预计不良率（贷款余额按现值） | R-B4 的看板提示 |
| 评级过期 | 评分所依据的信息采集已超过 {stale} 个月，应重新采集 | R-S1 |
| 信用村 | 当年有在贷农户贷款，且年末（或最近月末）不良率不超过 {line} 的行政村 | R-T1 |
| 风险补偿金使用率 | 全部贷款余额 ÷ 风险补偿金可贷规模 | R-M4 |

“较上月”为与上一个月末相比的变化；比率的变化以“个百分点”表示，没有变化写“持平”。
金额在汇总页面以万元显示，单个农户以元显示。

### 会议模式
页面右上角打开“会议模式”：隐藏侧边栏，放大文字、数字和图表，标题写明范围和月份，便于投屏；
页面菜单移到顶部，换页后仍保持会议模式。链接中带 `meeting=1` 的，打开即为会议模式。

### 月度简报
在“总览”或“报表导出”页点击“生成月度简报（PDF）”，约 5–10 秒后出现下载按钮。简报按所选月份、
全区或所选乡镇生成，只含汇总数字和地名（不含农户姓名），可直接转发领导小组；每次生成都记入审计日志。

### 分享链接
浏览器地址栏中的链接就是当前看到的页面：它记录了页面和统计月份（`as_of`）、乡镇（`township`）、
行政村（`village`）、农户（`household`）、会议模式（`meeting`），信用评级页还有对比月份（`compare`）。
复制地址栏中的链接发给同事即可：

- 对方打开后**须先用自己的账号登录**，登录后显示同一页面；
- 对方**只能看到自己账号范围内**的数据：乡镇账号打不开其他乡镇的链接，领导小组账号看不到农户名单；
- `as_of=2024-06` 表示 2024 年 6 月末；链接中的日期没有数据、代码不存在或参数写错时，页面上方会逐项说明，
  不会悄悄换成别的数据；可点击按钮改看最近的月份。

### 导出的文件
xlsx 带标题行、导出人和导出时间，身份证号按文本保存；CSV 用 Excel 或 WPS 双击即可打开，身份证号和
各类代码前有一个看不见的制表符，以免被当成数字而丢失末尾几位；汇总表的 CSV 最后一行是合计。
每次导出都记入审计日志。
"""
)
