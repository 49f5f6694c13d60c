/*
  Crypto lures: wallet "verification", airdrops to claim, bankruptcy claims to file,
  balances to withdraw. The reward is the wallet's seed phrase or a deposit.
*/

rule PHISH_Lure_Crypto_WalletOrClaim
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e70"
        description = "Crypto wallet or exchange named with claim/airdrop/verify/withdraw wording and a link, from a sender that is not that exchange or project"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "reward_lure"

    strings:
        $c1 = /\b(metamask|trust ?wallet|ledger|exodus|coinbase|binance|kraken|bittrex|celsius|ftx|opensea|uniswap|pancakeswap|zksync|arbitrum|aave|lido|ripple|xrp|usdt|usdc|tether|ethereum|\$?eth|bitcoin|btc|nft|web3|defi)\b/ nocase
        $a1 = /\b(airdrop|claim (your|now|the|received)|mint your|(you('ve| have) )?received an? ([a-z]+ )?(item|nft)s?\b|claims? (process|portal|form)|seed phrase|recovery phrase|secret (phrase|recovery)|private key|withdraw(al)?|unlock your wallet|verify your wallet|wallet (is|has been|will be) (suspended|restricted|locked|blocked|disabled)|(sync|validate|connect) your wallet|staking rewards?|allocation)\b/ nocase
        // Wallet "re-verification": the exchange's name plus a mandatory check by a deadline.
        $a2 = /\b(wallets?(\s|&nbsp;)(is|are)(\s|&nbsp;)not(\s|&nbsp;)(yet )?verified|unverified wallets?|must re-?identify|re-?identification|identification required|security scan|scan your device|(verify|update) your (wallet|device|recovery))\b/ nocase
        // Wallet suspension itself: a self-custody wallet cannot be suspended or
        // "verified", so this wording is the lure whatever brand it names.
        $w1 = /\b(your )?wallet (will (soon )?be|has been|is( being)?) (suspended|disabled|deactivated|locked|restricted)|wallet has not (yet )?been verified|wallets? (is|are) still pending verification|(unverified|unauthenticated) wallets (will|are|be)\b/ nocase
        // Linkless variant: "bitcoin details found in a lost bag", a funded "portfolio" with
        // login details for a site named in the text: the reader is sent there by hand.
        $a3 = /\b(bitcoin details I found|found in (the|a) lost bag|(portfolio|wallet) has been funded with)\b/ nocase
    condition:
        part_kind == "message"
        and (($c1 and ((url_count > 0 and ($a1 or $a2)) or $a3))
             or (url_count > 0 and $w1))
        and not sender_domain matches /(^|\.)(metamask|trustwallet|ledger|exodus|coinbase|binance|kraken|bittrex|opensea|uniswap|pancakeswap|zksync|arbitrum|aave|lido|ripple|tether|ethereum|ftx|kroll)\.[a-z.]+$/
}

rule PHISH_Lure_Crypto_TradingIncomeTelegram
{
    meta:
        id = "5b0f3c0e-4f7e-4c43-9a57-0b7f3e8a2d11"
        description = "Promise of income from crypto trading or mining that sends the reader to a Telegram or WhatsApp chat"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "investment_scam"
        tactic = "social_engineering"

    strings:
        $coin = /\b(bitcoin|btc|crypto(currency)?|forex|usdt|ethereum)\b/ nocase
        // "earn 7 figures income from Bitcoin trading": returns promised to a stranger.
        $earn = /\b(earn|make|making|earning) [^.\n]{0,30}(figures?|income|profits?|returns?|per (day|week|month))\b[^.\n]{0,20}\b(from|with|by|trading|mining)\b/ nocase
        // The conversation moves to a chat app where no filter follows.
        $chat = /(https?:\/\/)?(t\.me\/|telegram\.me\/|wa\.me\/|chat\.whatsapp\.com\/)/ nocase
    condition:
        part_kind == "message"
        and $coin and $earn and $chat
}
