//! Rules that clear a match: negation within its sentence, news or fiction context within its
//! clause.

use std::sync::LazyLock;

use super::compiled::Entry;
use super::phrases::normalised_all;
use super::trie::Trie;

/// How far after a match a negation may begin, in characters. Long enough for
/// 「自殺なんて考えたこともない」, short enough not to reach into a new thought.
const NEGATION_GAP_MAX: usize = 10;
/// How far from a match a news or fiction word may be, in characters.
const CONTEXT_REACH: usize = 14;

/// Negations that clear a match followed by them: 死にたい|とは思わない, 暴力|はありません.
/// Only ever used after a gap that passes [`negation_gap_is_plain`].
const NEGATIONS: &[&str] = &[
    "{思|おも}{わない|ってない|っていない|いません|っていません|ってません|わなくなっ|わなくなり}",
    "{考|かんが}え{ない|ていない|てない|ません|ていません|てません}",
    "{わけ|訳}{では|じゃ|でも}{ない|無い|ありません|なく|ございません}",
    "{こと|事}{は|も|が|}{ない|無い|ありません|なかっ}",
    "{つもり|気}{は|も}{ない|無い|ありません}",
    "ほど{では|じゃ|でも}{ない|ありません}",
    "{は|も}{ない|無い|ありません|なく|なかっ}",
    "{は|も}{一切|いっさい|全く|まったく|全然|ぜんぜん}{ない|無い|ありません}",
    "{では|じゃ}{ない|ありません}",
    "{しない|しません|していない|していません|してない|してません}",
    "{され|られ}{ていない|ていません|てない|ません}",
    "{振る|ふる}{わない|いません|っていない|っていません|ってない|わなかっ}",
    "{振る|ふる}われ{ていない|ていません|てない|たことはない}",
    "{受け|うけ}{ていない|ていません|てない|たことはない}",
];

/// What may stand between a match and its negation: hiragana and the kanji of 思う, 考える,
/// 気持ち, 別に, 一度も, 全然, 決して, 特に, 一切, 少しも, 行為, 〜的. Anything else (a noun, a new
/// verb) means the negation may be about something else, so the match stays flagged:
/// 「死にたい気持ちが消えない」 is not a denial.
const NEGATION_GAP_KANJI: &str = "思考気持別一度全然決特切少行為的";

/// Words that, in the gap, turn the sentence: 「死にたいけど実行することはない」 still wants to
/// die, 「死にたいと思わないことはない」 is a double negative, 「死にたい気持ちがある…」 asserts.
const NEGATION_GAP_BLOCKERS: &[&str] = &[
    "ない",
    "なく",
    "ません",
    "なかっ",
    "けど",
    "けれ",
    "でも",
    "のに",
    "ても",
    "が",
    "しか",
];

/// What, right after a negation, reverses or questions it: 思わない|日はない, 思わない|ことはない,
/// 思わない|ようにしている, ないわけではない, ないか (心配), ないと言えば嘘, しないで (ほしい).
const REVERSALS: &[&str] = &[
    "日",
    "ひは",
    "ひが",
    "わけ",
    "訳",
    "こと",
    "事",
    "よう",
    // Not と alone: 「思ったことがないと言います」 reports the denial.
    "{と言え|といえ|とは言え|とはいえ|と言ったら|といったら|とは言い切|とはいいき|といけな|とだめ|と駄目}",
    "か",
    "なら",
    "でほし",
    "でくだ",
    "で下さ",
    "時",
    "とき",
];

/// Right after a match, these put it in the news or fiction: 自殺|のニュース,
/// 自殺した芸能人の|報道. Not 場面 or シーン: 「殴られる場面を思い出す」 is a memory.
const CONTEXT_AFTER: &[&str] = &[
    "ニュース",
    "報道",
    "ほうどう",
    "報じ",
    "ほうじ",
    "記事",
    "新聞",
    "しんぶん",
    "ドラマ",
    "映画",
    "えいが",
    "漫画",
    "まんが",
    "小説",
    "しょうせつ",
    "アニメ",
    "番組",
    "ばんぐみ",
    "特集",
    "ラジオ",
    "ドキュメンタリー",
    // Games: only words that name a game, not ゲーム alone (「暴れてゲーム機を壊した」 is real).
    "{アクション|シューティング|格闘|対戦|オンライン|スマホ|ホラー|バトル}ゲーム",
    "ステージ",
    // 「崖から身を投げる場面があった」 is a story; 「殴られる場面を思い出す」 (a memory) is not.
    "場面{が|も}{あっ|あり|ある|出て|でて}",
    // 「飛び降りて遊んでいた」「飛び降りさせて遊ぶ」: play.
    "{て|させて}{遊|あそ|はしゃ}",
];

/// Shortly before a match, these put it in the news or fiction:
/// ニュースで|中学生が|自殺した, ドラマで主人公が|自殺する.
const CONTEXT_BEFORE: &[&str] = &[
    "ニュース{で|によると|の中で|では}",
    "{報道|ほうどう}{で|によると|では}",
    "{記事|新聞|しんぶん}{で|によると|では|に}",
    "{ドラマ|映画|えいが|漫画|まんが|小説|しょうせつ|アニメ|番組|ばんぐみ|ラジオ}{で|の中で|では|の}",
    // 「ホラー映画を見て「首吊りのシーン…」」: what was watched or read.
    "{ドラマ|映画|えいが|漫画|まんが|小説|しょうせつ|アニメ|番組|ばんぐみ}を{見て|みて|観て|読んで|よんで}",
    "{ゲーム|げーむ}{の中で|のなかで|の中の|のなかの|内で|の世界で|の中では}",
    "{主人公|登場人物|キャラクター|キャラ|芸能人|有名人|俳優|歌手|アイドル|犯人|容疑者}{が|は|の|を}",
    "{小学生|中学生|高校生|大学生|少年|少女|男性|女性}が",
    // 「歌詞に「生きてる意味なんてない」ってのがあって」: a song's words.
    "{歌詞|かし}{に|で|の|には|では}",
];

/// Between a context word and the match, these tie it back to the writer or the family, so the
/// context no longer excuses it: 「ドラマの影響で息子が暴れる」.
const CONTEXT_BLOCKERS: &[&str] = &[
    "私",
    "わたし",
    "僕",
    "ぼく",
    "俺",
    "おれ",
    "自分",
    "じぶん",
    "うち",
    "家",
    "父",
    "母",
    "兄",
    "弟",
    "姉",
    "妹",
    "息子",
    "娘",
    "夫",
    "妻",
    "主人",
    "親",
    "祖",
    "たい",
    "たく",
    "{考|かんが}え",
    "{思|おも}",
    "つもり",
];

/// After a match in anyone's voice, a report of it in the media: 「死にたい」と報じられた.
/// Also a song's words: 「消えてしまいたい」という歌詞 (fresh12–14: lyrics quoted, not meant).
const REPORTED: &[&str] = &[
    "と{報じ|ほうじ|報道|ほうどう}",
    "{という|って|っていう|との}{歌詞|かし}",
];

/// The rule words in normalised form. The longer lists are tries: a match is judged by walking
/// its short neighbourhood once, not by searching it for each of some hundreds of words.
pub(super) struct Rules {
    negations: Trie,
    gap_blockers: Vec<String>,
    reversals: Vec<String>,
    context_after: Trie,
    context_before: Trie,
    context_blockers: Trie,
    reported: Vec<String>,
}

/// The rule words in normalised form, so they can be written naturally above (ニュース, 思わない).
pub(super) static RULES: LazyLock<Rules> = LazyLock::new(|| Rules {
    negations: Trie::of(&normalised_all(NEGATIONS)),
    gap_blockers: normalised_all(NEGATION_GAP_BLOCKERS),
    reversals: normalised_all(REVERSALS),
    context_after: Trie::of(&normalised_all(CONTEXT_AFTER)),
    context_before: Trie::of(&normalised_all(CONTEXT_BEFORE)),
    context_blockers: Trie::of(&normalised_all(CONTEXT_BLOCKERS)),
    reported: normalised_all(REPORTED),
});

/// The first `n` characters of `s`.
fn first_chars(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// The last `n` characters of `s`.
fn last_chars(s: &str, n: usize) -> &str {
    if n == 0 {
        return "";
    }
    s.char_indices()
        .rev()
        .nth(n - 1)
        .map_or(s, |(i, _)| &s[i..])
}

/// Every (start, end) of a word of `trie` in `text`.
fn ends_of<'a>(trie: &'a Trie, text: &'a str) -> impl Iterator<Item = (usize, usize)> + 'a {
    text.char_indices().flat_map(move |(start, _)| {
        let mut ends = Vec::new();
        trie.matches_at(text, start, |end, _| ends.push((start, end)));
        ends
    })
}

fn contains_any(s: &str, words: &[String]) -> bool {
    words.iter().any(|w| s.contains(w.as_str()))
}

fn negation_gap_is_plain(gap: &str, rules: &Rules) -> bool {
    gap.chars().count() <= NEGATION_GAP_MAX
        && gap
            .chars()
            .all(|c| ('\u{3041}'..='\u{309F}').contains(&c) || NEGATION_GAP_KANJI.contains(c))
        && !contains_any(gap, &rules.gap_blockers)
}

/// Whether `tail`, the rest of the sentence after a match (cut at the next match), denies it.
pub(super) fn is_negated(tail: &str, rules: &Rules) -> bool {
    // Enough for the longest gap plus the longest negation and what follows it.
    let tail = first_chars(tail, NEGATION_GAP_MAX + 24);
    for (at, _) in tail.char_indices() {
        // A gap that is not plain stays so as it grows: no later negation can count.
        if !negation_gap_is_plain(&tail[..at], rules) {
            return false;
        }
        let mut negated = false;
        rules.negations.matches_at(tail, at, |end, _| {
            let rest = &tail[end..];
            let reversed = rules.reversals.iter().any(|r| rest.starts_with(r.as_str()))
                || ["ない", "ません", "なかっ"]
                    .iter()
                    .any(|n| first_chars(rest, 5).contains(n));
            negated |= !reversed;
        });
        if negated {
            return true;
        }
    }
    false
}

/// Whether a match sits in a news or fiction context. `before` runs from the clause start (or
/// the previous match) to the match; `after` from the match to the clause end.
pub(super) fn in_media_context(entry: &Entry, before: &str, after: &str, rules: &Rules) -> bool {
    if rules.reported.iter().any(|r| after.starts_with(r.as_str())) {
        return true;
    }
    if entry.own_voice {
        return false;
    }
    // After the match: a context word starting within reach, with no blocker wholly before it.
    let after = first_chars(after, CONTEXT_REACH + 8);
    let first_blocker_end = ends_of(&rules.context_blockers, after)
        .map(|(_, e)| e)
        .min();
    for (at, _) in after.char_indices().take(CONTEXT_REACH + 1) {
        if first_blocker_end.is_some_and(|e| e <= at) {
            break;
        }
        if rules.context_after.any_at(after, at) {
            return true;
        }
    }
    // Before the match: a context word with no blocker starting after its end.
    let before = last_chars(before, CONTEXT_REACH);
    let Some(last_word_end) = ends_of(&rules.context_before, before).map(|(_, e)| e).max() else {
        return false;
    };
    let last_blocker_start = ends_of(&rules.context_blockers, before)
        .map(|(s, _)| s)
        .max();
    last_blocker_start.is_none_or(|s| s < last_word_end)
}
