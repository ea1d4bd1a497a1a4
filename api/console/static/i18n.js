"use strict";
// The shell's own words in both languages; each view brings its own table (yt.view({i18n})).
window.YT_SHELL_TEXT = {
  zh: {
    "login.title": "打开控制台", "login.help": "密钥只保存在本标签页（sessionStorage），以 Authorization: Bearer 发送。",
    "login.placeholder": "API 密钥（管理员、营销或审核）", "login.open": "打开", "logout": "退出",
    "lang.switch": "EN", "loading": "加载中…", "error.load": "加载失败", "error.forbidden": "此密钥无权查看",
    "none": "无", "running": "运行中", "yes": "是", "no": "否", "cancel": "取消", "confirm": "确认",
    "search": "搜索", "all": "全部", "more": "更多", "newer": "较新", "older": "较早",
    "decision.allow": "放行", "decision.review": "审核", "decision.deny": "拒绝",
    "mode.active": "生效", "mode.shadow": "影子", "mode.off": "关闭",
    "role.admin": "管理员", "role.marketer": "营销", "role.reviewer": "审核", "role.platform": "平台",
    "notfound": "没有这个页面",
  },
  en: {
    "login.title": "Open the console", "login.help": "The key stays in this tab (sessionStorage) and is sent as Authorization: Bearer.",
    "login.placeholder": "API key (admin, marketer or reviewer)", "login.open": "Open", "logout": "Forget key",
    "lang.switch": "中文", "loading": "Loading…", "error.load": "Could not load", "error.forbidden": "This key may not see this",
    "none": "none", "running": "running", "yes": "yes", "no": "no", "cancel": "Cancel", "confirm": "Confirm",
    "search": "Search", "all": "all", "more": "More", "newer": "Newer", "older": "Older",
    "decision.allow": "allow", "decision.review": "review", "decision.deny": "deny",
    "mode.active": "active", "mode.shadow": "shadow", "mode.off": "off",
    "role.admin": "admin", "role.marketer": "marketer", "role.reviewer": "reviewer", "role.platform": "platform",
    "notfound": "No such page",
  },
};
