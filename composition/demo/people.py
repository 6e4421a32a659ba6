"""Made-up but plausible people and places for the demo scenarios, from a fixed generator.

Names and villages do not depend on the demo's ``--seed`` (that one moves only the scores),
so two runs with different seeds describe the same county.
"""

from __future__ import annotations

import random

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏"
    "薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
)
GIVEN = (
    "建国 建军 国强 志刚 海涛 卫东 永红 红梅 秀英 丽娟 春生 德明 文华 玉兰 桂芳 振华 新民 晓燕 俊杰 学军 "
    "保国 金山 素珍 爱民 庆丰 立新 长江 玉梅 海燕 宏伟 光明 东升 秋菊 冬梅 兴旺 富贵 向阳 满仓 瑞芳 振兴 "
    "红霞 凤英 志强 跃进 卫国 建设 小平 利民 晓东 振东 家乐 春燕 国庆 月娥 宝林 志勇 雪梅 立军 铁柱 静 "
    "敏 磊 伟 强 勇 军 杰 涛 斌 超 鹏 辉 华 飞 霞 燕 芳 娟 颖 丹"
).split()
VILLAGE_HEADS = "东西南北前后上下大小新老王李张刘陈杨赵黄周吴高马孙郭何罗宋郑韩唐冯石白金岳柳杏桃枣槐柏松"
VILLAGE_TAILS = ("庄 营 屯 寨 店 堡 河 沟 坡 岭 园 湾 桥 洼 坊 头 集 楼 岗 庙").split()
COMMUNITY_NAMES = (
    "和平 幸福 团结 胜利 建设 光明 朝阳 新华 文化 育才 丹河 清源 永安 康宁 兴隆 锦绣 怀府 "
    "人民 繁荣 振兴 花园 滨河 西关 东关 南关 北关"
).split()


class People:
    def __init__(self, key: str) -> None:
        self._rng = random.Random(f"leitai-people:{key}")
        self._taken: set[str] = set()

    def name(self) -> str:
        while True:
            name = self._rng.choice(SURNAMES) + self._rng.choice(GIVEN)
            if name not in self._taken:
                self._taken.add(name)
                return name

    def villages(self, count: int, urban: bool) -> list[str]:
        names: list[str] = []
        while len(names) < count:
            if urban and self._rng.random() < 0.6:
                name = self._rng.choice(COMMUNITY_NAMES) + "社区"
            else:
                name = self._rng.choice(VILLAGE_HEADS) + self._rng.choice(VILLAGE_TAILS) + "村"
            if name not in self._taken:
                self._taken.add(name)
                names.append(name)
        return names

    def phone(self) -> str:
        return "1" + self._rng.choice("3589") + "".join(self._rng.choice("0123456789") for _ in range(9))

    def pick(self, options):
        return self._rng.choice(options)

    def sample(self, options, k: int):
        return self._rng.sample(options, k)
